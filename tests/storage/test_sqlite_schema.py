"""A new SQLite database gets its schema from storage/sqlite_schema.sql: the same database the migrations build."""

from __future__ import annotations

import pathlib
import sqlite3

import pytest
from alembic import command

from storage import migrate, sqlite_schema
from storage.db import create_engine

pytestmark = pytest.mark.sqlite_only


async def _upgrade(path: pathlib.Path, **options: bool) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        await migrate.upgrade(engine, **options)
    finally:
        await engine.dispose()


def _items(create_table: str) -> list[str]:
    """A CREATE TABLE's columns and constraints, sorted: Alembic's batch mode, which rebuilds SQLite tables, writes
    a table's constraints in an order that changes from run to run."""
    body = create_table[create_table.index("(") + 1:create_table.rindex(")")]
    items, depth, quoted, current = [], 0, False, ""
    for character in body:
        if character == "'":
            quoted = not quoted
        elif not quoted and character in "()":
            depth += 1 if character == "(" else -1
        elif not quoted and depth == 0 and character == ",":
            items.append(" ".join(current.split()))
            current = ""
            continue
        current += character
    return sorted([*items, " ".join(current.split())])


def _contents(path: pathlib.Path) -> tuple[dict[str, object], dict[str, list[tuple[object, ...]]]]:
    """The database's schema and rows, with what Alembic orders at random put in order."""
    connection = sqlite3.connect(path)
    try:
        schema: dict[str, object] = {}
        tables = []
        for kind, name, sql in connection.execute("SELECT type, name, sql FROM sqlite_master"):
            if kind == "table":
                tables.append(name)
                columns = [row[1] for row in connection.execute(f'PRAGMA table_xinfo("{name}")')]
                schema[name] = (kind, columns, _items(sql))
            elif name.startswith("sqlite_autoindex_"):  # numbered in the order of the table's constraints
                continue
            else:
                schema[name] = (kind, sql)
        rows = {table: sorted(connection.execute(f'SELECT * FROM "{table}"').fetchall()) for table in tables}
        return schema, rows
    finally:
        connection.close()


async def test_a_new_database_from_the_file_equals_one_from_the_migrations(
        tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fails when a migration is added or changed and the file is not written again."""
    built, loaded = tmp_path / "alembic.db", tmp_path / "snapshot.db"
    await _upgrade(built, use_snapshot=False)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("Alembic ran on a new SQLite database")

    monkeypatch.setattr(command, "upgrade", refuse)
    await _upgrade(loaded)
    monkeypatch.undo()
    assert _contents(loaded) == _contents(built), (
        "storage/sqlite_schema.sql is out of date: run `python -m storage.sqlite_schema`")
    assert _contents(loaded)[1]["alembic_version"] == [(migrate.head_revision(),)]


def test_the_comparison_sees_a_changed_table(tmp_path: pathlib.Path) -> None:
    first, second = tmp_path / "a.db", tmp_path / "b.db"
    for path, sql in ((first, "CREATE TABLE t (a INTEGER NOT NULL, b TEXT, UNIQUE (a), CHECK (a > 0))"),
                      (second, "CREATE TABLE t (a INTEGER NOT NULL, b TEXT, UNIQUE (b), CHECK (a > 0))")):
        connection = sqlite3.connect(path)
        connection.execute(sql)
        connection.close()
    assert _contents(first) != _contents(second)
    assert _items("CREATE TABLE t (a INT DEFAULT '0,1', UNIQUE (a, b))") == ["UNIQUE (a, b)", "a INT DEFAULT '0,1'"]


async def test_a_file_of_another_revision_is_not_used(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
                                                      ) -> None:
    stale = tmp_path / "stale.sql"
    stale.write_text(sqlite_schema.PATH.read_text(encoding="utf-8").replace(
        f"at revision {migrate.head_revision()},", "at revision 0004,", 1), encoding="utf-8")
    monkeypatch.setattr(sqlite_schema, "PATH", stale)
    sqlite_schema._snapshot.cache_clear()
    try:
        database = tmp_path / "new.db"
        await _upgrade(database)  # through Alembic
        built = tmp_path / "alembic.db"
        await _upgrade(built, use_snapshot=False)
        assert _contents(database) == _contents(built)
    finally:
        monkeypatch.undo()
        sqlite_schema._snapshot.cache_clear()


async def test_a_database_with_anything_in_it_goes_through_alembic(tmp_path: pathlib.Path) -> None:
    database = tmp_path / "older.db"
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        await migrate.upgrade(engine, "0004")
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()
    built = tmp_path / "alembic.db"
    await _upgrade(built, use_snapshot=False)
    assert _contents(database) == _contents(built)


def test_statements_are_split_where_sqlite_says_they_end() -> None:
    _, statements = sqlite_schema._snapshot()
    triggers = [statement for statement in statements if statement.startswith("CREATE TRIGGER")]
    assert triggers and all(statement.rstrip().endswith("END;") for statement in triggers)
    assert all(sqlite3.complete_statement(statement) for statement in statements)
