"""Alembic migrations, applied on start and by `hocvuso db upgrade`.

The Alembic config is built in code from the package's own migrations folder, so an installed
hocvuso needs no alembic.ini.

Most starts find the database already at the newest revision. That is checked first, without importing Alembic
(about 0.1 s of start-up): the newest revision is read from the migration files and compared with the
`alembic_version` row. Anything else (a new database, an older revision, files that cannot be read that way) goes
through Alembic as before, except a new, empty SQLite database, which is given the head schema from one SQL file
(storage/sqlite_schema.py). On PostgreSQL an advisory lock makes workers that start together migrate one at a time.
"""

from __future__ import annotations

import functools
import pathlib
import re
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import sqlite_schema

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = pathlib.Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"  # Alembic's default; env.py does not change it

_REVISION = re.compile(r"""^revision(?:\s*:[^=\n]*)?\s*=\s*["']([^"'\n]+)["']\s*$""", re.MULTILINE)
_DOWN_REVISION = re.compile(r"""^down_revision(?:\s*:[^=\n]*)?\s*=\s*(?:None|["']([^"'\n]+)["'])\s*$""",
                            re.MULTILINE)
_MIGRATION_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended('hocvuso:migrate', 0))")


def alembic_config(url: str | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@functools.cache
def head_revision() -> str | None:
    """The newest revision, read from the migration files without importing Alembic; None when that is not certain
    (a file without one plain `revision` and `down_revision`, a merge, several heads, no files)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        if path.name.startswith("_"):
            continue
        source = path.read_text(encoding="utf-8")
        revision = _REVISION.findall(source)
        down = _DOWN_REVISION.findall(source)
        if len(revision) != 1 or len(down) != 1 or revision[0] in revisions:
            return None
        revisions.add(revision[0])
        if down[0]:
            parents.add(down[0])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


def at_head(connection: Connection) -> bool:
    """The database is at the newest revision, so `upgrade` has nothing to do."""
    head = head_revision()
    if head is None or not inspect(connection).has_table(VERSION_TABLE):
        return False
    rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    return list(rows) == [head]


async def upgrade(engine: AsyncEngine, revision: str = "head", *, use_snapshot: bool = True) -> None:
    """Bring the database to `revision`. A new, empty SQLite database asked for head gets the schema from
    storage/sqlite_schema.sql in one go (`use_snapshot=False` makes Alembic build it, as when that file is written)."""

    def _run(connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            connection.execute(_MIGRATION_LOCK)  # held until commit: the next worker then finds it done
        if revision == "head" and at_head(connection):
            return
        if (use_snapshot and revision == "head" and connection.dialect.name == "sqlite"
                and sqlite_schema.is_empty(connection) and sqlite_schema.create(connection, head_revision())):
            return
        from alembic import command

        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(_run)
