"""Read sessions, the in-process write queue and what counts as a passing database fault, on real SQLite files
(and on PostgreSQL, where the helpers are plain sessions)."""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
import sqlite3
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from storage import db as storage_db
from storage import migrate
from storage.db import create_engine, is_transient, read_session, session_factory, write_transaction
from storage.models import Person


async def test_a_read_session_does_not_wait_for_a_writer_in_another_process(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "bot.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")  # another process is writing
        began = time.monotonic()
        async with read_session(sessions) as session:
            assert await session.scalar(text("SELECT count(*) FROM people")) == 0
        assert time.monotonic() - began < 1.0  # no busy wait (the busy timeout is 10 s)
        other.execute("ROLLBACK")
    await engine.dispose()


async def test_concurrent_writers_in_one_process_queue_without_busy_errors(
        tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage_db, "SQLITE_BUSY_TIMEOUT_MS", 50)  # far shorter than the queue's wait
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    async with write_transaction(sessions) as session:
        commune = (await session.execute(text("INSERT INTO communes (name) VALUES ('xã Thử') RETURNING id"))).scalar()

    async def write(n: int) -> None:
        async with write_transaction(sessions) as session:
            session.add(Person(ref=f"test:{n}", commune_id=commune))
            await session.flush()
            await asyncio.sleep(0.01)  # a transaction that takes a while, holding the write lock

    await asyncio.gather(*(write(n) for n in range(30)))
    async with read_session(sessions) as session:
        assert await session.scalar(text("SELECT count(*) FROM people")) == 30
    await engine.dispose()


def test_busy_and_lost_connections_are_transient_and_other_errors_are_not() -> None:
    locked = OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked"))
    assert is_transient(locked)
    syntax = OperationalError("SELEC", {}, sqlite3.OperationalError('near "SELEC": syntax error'))
    assert not is_transient(syntax)
    assert not is_transient(ValueError("database is locked"))

    class Deadlock(Exception):
        pgcode = "40P01"

    assert is_transient(OperationalError("UPDATE", {}, Deadlock("deadlock detected")))
