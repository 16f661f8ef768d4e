"""SQLite statements run on the loop's thread, but one that must wait (a lock held elsewhere, a long read) goes to
a worker thread: the loop keeps serving others, and the statement's result and transaction are as usual."""

from __future__ import annotations

import asyncio
import pathlib
import sqlite3

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage import db as storage_db
from storage.db import create_engine, is_transient, read_session, session_factory, write_transaction

pytestmark = pytest.mark.sqlite_only


async def _ticks_while(work: asyncio.Future[object] | asyncio.Task[object]) -> int:
    """How many times the loop ran another task while `work` was pending."""
    ticks = 0
    while not work.done():
        await asyncio.sleep(0.005)
        ticks += 1
    return ticks


def _counting_to(n: int) -> str:
    """A SELECT that runs for a while (a few hundred ms): SQLite counts to n."""
    return (f"SELECT count(*) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {n})"
            " SELECT x FROM c)")


async def _database(path: pathlib.Path) -> tuple[AsyncEngine, async_sessionmaker[AsyncSession]]:
    """The app's engine on a new file with one table, t (n INTEGER), and its sessions."""
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as connection:
        await connection.exec_driver_sql("CREATE TABLE t (n INTEGER)")
    return engine, session_factory(engine)


async def test_a_write_that_waits_for_another_process_lock_does_not_stop_the_loop(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "busy.db"
    engine, sessions = await _database(path)
    other = sqlite3.connect(path, isolation_level=None)  # another process, as far as SQLite can tell
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t VALUES (1)")

    async def write() -> object:
        async with write_transaction(sessions) as session:
            await session.execute(text("INSERT INTO t VALUES (2)"))
        return None

    task = asyncio.create_task(write())
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.sleep(0.3)
    assert loop.time() - started < 2.0  # the loop was not held in SQLite's busy handler (10 s)
    assert not task.done()  # waiting for the lock
    other.execute("COMMIT")
    await task
    async with read_session(sessions) as session:
        assert list(await session.scalars(text("SELECT n FROM t ORDER BY n"))) == [1, 2]
    other.close()
    await engine.dispose()


async def test_a_lock_held_past_the_busy_timeout_is_a_transient_error(tmp_path: pathlib.Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage_db, "SQLITE_BUSY_TIMEOUT_MS", 200)
    path = tmp_path / "locked.db"
    engine, sessions = await _database(path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(OperationalError) as caught:
        async with write_transaction(sessions) as session:
            await session.execute(text("INSERT INTO t VALUES (2)"))
    assert is_transient(caught.value)
    assert loop.time() - started >= 0.15  # it did wait out the busy timeout, in a thread
    other.execute("ROLLBACK")
    other.close()
    await engine.dispose()


async def test_a_long_read_moves_to_a_thread_and_keeps_the_transaction(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "long.db"
    engine, sessions = await _database(path)
    count = _counting_to(2_000_000)

    async def long_read_in_a_write() -> object:
        async with write_transaction(sessions) as session:
            await session.execute(text("INSERT INTO t VALUES (7)"))
            result = await session.scalar(text(count))
            await session.execute(text("INSERT INTO t VALUES (8)"))
        return result

    task: asyncio.Task[object] = asyncio.create_task(long_read_in_a_write())
    started = asyncio.get_running_loop().time()
    ticks = await _ticks_while(task)
    took = asyncio.get_running_loop().time() - started
    assert await task == 2_000_000
    assert took > 0.05 and ticks >= 5  # the loop ran other work while the read was under way (inline: 0 or 1)
    async with read_session(sessions) as session:
        assert list(await session.scalars(text("SELECT n FROM t ORDER BY n"))) == [7, 8]  # not rolled back
    await engine.dispose()


async def test_short_statements_and_their_results_are_as_with_aiosqlite(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "short.db"
    engine, sessions = await _database(path)
    async with write_transaction(sessions) as session:
        await session.execute(text("INSERT INTO t VALUES (:n)"), [{"n": n} for n in range(5)])  # executemany
        inserted = await session.execute(text("INSERT INTO t VALUES (99)"))
        assert inserted.rowcount == 1
    async with write_transaction(sessions) as session:
        with pytest.raises(OperationalError):
            await session.execute(text("SELECT nothing FROM nowhere"))
    async with read_session(sessions) as session:
        streamed = await session.stream(text("SELECT n FROM t ORDER BY n"))
        assert [row.n async for row in streamed] == [0, 1, 2, 3, 4, 99]
    await engine.dispose()


async def test_a_caller_cancelled_while_its_statement_runs_in_a_thread_leaves_the_connection_whole(
        tmp_path: pathlib.Path) -> None:
    """The thread cannot be stopped: the rollback and close that follow the cancellation wait for it (closing a
    connection another thread is using would crash the process)."""
    path = tmp_path / "cancel.db"
    engine, sessions = await _database(path)
    count = _counting_to(3_000_000)

    async def long_read() -> object:
        async with read_session(sessions) as session:
            return await session.scalar(text(count))

    for _ in range(3):
        task: asyncio.Task[object] = asyncio.create_task(long_read())
        await asyncio.sleep(0.05)  # the read has moved to a thread by now
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        async with write_transaction(sessions) as session:  # the pool's connections still work
            await session.execute(text("INSERT INTO t VALUES (1)"))
    async with read_session(sessions) as session:
        assert await session.scalar(text("SELECT count(*) FROM t")) == 3
    await engine.dispose()


async def test_a_one_statement_read_sends_no_begin_and_sees_only_what_is_committed(tmp_path: pathlib.Path) -> None:
    """read_connection (delivery's read of the outbox, once per reply): on SQLite a single SELECT is its own
    snapshot, so no BEGIN is sent; a writer's uncommitted rows stay invisible all the same."""
    path = tmp_path / "one-read.db"
    engine, sessions = await _database(path)
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *rest: statements.append(statement.split()[0].upper()))
    async with write_transaction(sessions) as session:
        await session.execute(text("INSERT INTO t VALUES (1)"))
    async with write_transaction(sessions) as writing:
        await writing.execute(text("INSERT INTO t VALUES (2)"))  # not committed while the read runs
        statements.clear()
        async with storage_db.read_connection(sessions) as connection:
            rows = (await connection.execute(text("SELECT n FROM t"))).scalars().all()
        assert rows == [1]
        assert statements == ["SELECT"]
    statements.clear()
    async with read_session(sessions) as session:  # a session that reads several statements still begins
        await session.execute(text("SELECT n FROM t"))
        assert statements == ["BEGIN", "SELECT"]
    await engine.dispose()
