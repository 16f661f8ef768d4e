"""The schema a new SQLite database gets, as one SQL file instead of nine Alembic migrations.

Running the migrations one by one on an empty SQLite file costs about 0.3 s of start-up (Alembic's import, its
script directory, and the batch operations that rebuild tables), and every test that starts an app pays it too.
`sqlite_schema.sql` is what those migrations leave in an empty database, dumped by the standard library's
`sqlite3.Connection.iterdump`: tables, indexes, triggers and the `alembic_version` row. A new, empty SQLite
database is given that file in one transaction; every other database (older revisions, PostgreSQL) still goes
through Alembic, and so does a new one whenever the file's revision is not the migrations' head.

After adding a migration, write the file again:

    python -m storage.sqlite_schema

tests/storage/test_sqlite_schema.py fails until it matches what the migrations build.
"""

from __future__ import annotations

import asyncio
import functools
import pathlib
import re
import sqlite3
import tempfile
from collections.abc import Iterator

from sqlalchemy import text
from sqlalchemy.engine import Connection

PATH = pathlib.Path(__file__).with_name("sqlite_schema.sql")
_HEADER = "-- hocvuso: the SQLite schema at revision {revision}, written by `python -m storage.sqlite_schema`.\n"
_REVISION = re.compile(r"^-- hocvuso: the SQLite schema at revision (\S+),")
_TRANSACTION = {"BEGIN TRANSACTION;", "COMMIT;"}  # iterdump's own; the caller's transaction is used instead


def dump(path: pathlib.Path, revision: str) -> str:
    """The SQL that rebuilds the SQLite database at `path` (which is at `revision`)."""
    connection = sqlite3.connect(path)
    try:
        lines = [line for line in connection.iterdump() if line not in _TRANSACTION]
    finally:
        connection.close()
    return _HEADER.format(revision=revision) + "\n".join(lines) + "\n"


@functools.cache
def _snapshot() -> tuple[str | None, tuple[str, ...]]:
    """The file's revision and its statements, split where SQLite says a statement is complete (a trigger's body
    holds semicolons of its own)."""
    try:
        source = PATH.read_text(encoding="utf-8")
    except OSError:
        return None, ()
    match = _REVISION.match(source)
    return (match.group(1) if match else None), tuple(_statements(source.splitlines(keepends=True)[1:]))


def _statements(lines: list[str]) -> Iterator[str]:
    pending = ""
    for line in lines:
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending.strip()
            pending = ""
    if pending.strip():
        raise ValueError(f"{PATH.name} ends inside a statement: {pending[:80]!r}")


def is_empty(connection: Connection) -> bool:
    """No table, index, view or trigger at all: a database nobody has used yet."""
    return int(connection.execute(text("SELECT count(*) FROM sqlite_master")).scalar_one()) == 0


def create(connection: Connection, head: str | None) -> bool:
    """Give an empty SQLite database the schema at `head`, in the caller's transaction; False (and nothing done)
    when the file is missing or is of another revision."""
    revision, statements = _snapshot()
    if head is None or revision != head or not statements:
        return False
    for statement in statements:
        connection.exec_driver_sql(statement)
    return True


async def _write() -> str:
    from storage import migrate
    from storage.db import create_engine

    head = migrate.head_revision()
    if head is None:
        raise SystemExit("the migrations' head cannot be read from the files")
    with tempfile.TemporaryDirectory() as folder:
        database = pathlib.Path(folder) / "schema.db"
        engine = create_engine(f"sqlite+aiosqlite:///{database}")
        try:
            await migrate.upgrade(engine, use_snapshot=False)
        finally:
            await engine.dispose()
        return dump(database, head)


if __name__ == "__main__":
    PATH.write_text(asyncio.run(_write()), encoding="utf-8")
    print(f"wrote {PATH}")
