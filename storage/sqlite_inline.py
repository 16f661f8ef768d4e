"""SQLite statements run on the event loop's own thread, with a worker thread only for those that would wait.

aiosqlite sends every call to a thread of its own and back: a queue hand-off, a wake-up of the loop and a turn
of it per statement. Under load the turn is the cost. A write transaction (held in the process's write queue)
waits a whole loop turn between its statements while every other task runs, so the queue moves at the pace of
the loop, not of SQLite. Most statements of a chatbot read or write a few rows from the page cache and take tens
of microseconds, far less than the hand-off.

This module gives SQLAlchemy's aiosqlite dialect a connection with aiosqlite's interface (through the dialect's
`async_creator_fn`) that runs a statement inline first, and in a worker thread only when it must wait:
- **busy**: the inline try has no busy timeout, so a statement that needs a lock another connection holds (a
  writer in another process, a backup) fails at once with SQLITE_BUSY and nothing done; it is then run again in
  a thread with the full busy timeout, so the loop never sleeps in SQLite's busy handler;
- **long**: a SELECT still running after `INLINE_BUDGET_SECONDS` (a monthly report, a scan) is interrupted
  through SQLite's progress handler and run again in a thread. Reads have no side effects, and interrupting a
  SELECT does not roll back its transaction. Writes are not interrupted;
- **commit** always runs in a thread: it may checkpoint the WAL and sync the file to disk.

Writes run inline whatever their size: a purge that removes very many rows holds the loop while it runs.

The connection is used by one session at a time (the pool's rule), and never by the inline path and a thread at
once: every call waits until the connection's work in a thread has ended. That includes work whose caller was
cancelled while waiting for it: the thread cannot be stopped, so what the pool does next on that connection (a
rollback, a close, a forced close) waits for it, as aiosqlite's single queue made it wait.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

INLINE_BUDGET_SECONDS = 0.002  # a SELECT past this goes to a thread (the loop serves others meanwhile)
PROGRESS_STEPS = 1000  # SQLite VM instructions between looks at the clock (a key lookup takes a few dozen)
# The statements that must wait, at most one per pooled connection at a time.
_WAITERS = concurrent.futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="sqlite-wait")


def _busy(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("database is locked" in text or "is busy" in text)


def _reads_only(sql: str) -> bool:
    return sql.lstrip()[:6].upper() == "SELECT"


class _Immediate:
    """aiosqlite's call queue, as SQLAlchemy's dialect uses it (`_tx.put_nowait((future, function))`): run now."""

    @staticmethod
    def put_nowait(item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:  # handed to whoever awaits the future
            if future is not None:
                future.set_exception(exc)
        else:
            if future is not None:
                future.set_result(result)


class InlineCursor:
    """aiosqlite's Cursor interface; rows are read in full by `execute` (where the stepping happens)."""

    def __init__(self, connection: InlineConnection) -> None:
        self._connection = connection
        self._cursor = connection._conn.cursor()
        self._rows: list[Any] = []
        self._at = 0
        self.arraysize = 1

    async def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] | None = None) -> InlineCursor:
        args = () if parameters is None else (parameters,)
        self._rows, self._at = await self._connection._run(sql, lambda: self._step(sql, args))
        return self

    def _step(self, sql: str, args: tuple[Any, ...]) -> tuple[list[Any], int]:
        self._cursor.execute(sql, *args)
        return (self._cursor.fetchall() if self._cursor.description else []), 0

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> InlineCursor:
        batch = list(parameters)  # a generator could not be run twice (inline, then in a thread)
        await self._connection._run(sql, lambda: self._cursor.executemany(sql, batch), interruptible=False)
        self._rows, self._at = [], 0
        return self

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    async def fetchone(self) -> Any:
        if self._at >= len(self._rows):
            return None
        self._at += 1
        return self._rows[self._at - 1]

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = self.arraysize if size is None else size
        rows = self._rows[self._at:self._at + count]
        self._at += len(rows)
        return rows

    async def fetchall(self) -> list[Any]:
        rows = self._rows[self._at:]
        self._at = len(self._rows)
        return rows

    async def close(self) -> None:
        self._rows, self._at = [], 0
        if self._connection.waiting():
            await self._connection.settle()
        self._cursor.close()


class InlineConnection:
    """aiosqlite's Connection interface over a sqlite3 connection, run inline (see the module's text)."""

    def __init__(self, conn: sqlite3.Connection, busy_timeout_ms: int) -> None:
        self._conn = conn
        self._tx = _Immediate()
        self._busy_timeout_ms = busy_timeout_ms
        self._deadline: float | None = None
        self._interrupted = False
        self._in_thread: concurrent.futures.Future[Any] | None = None  # this connection's work in a thread
        conn.execute("PRAGMA busy_timeout=0")
        conn.set_progress_handler(self._progress, PROGRESS_STEPS)

    def _progress(self) -> int:
        if self._deadline is not None and time.perf_counter() > self._deadline:
            self._interrupted = True
            return 1  # SQLITE_INTERRUPT: this SELECT goes on in a thread
        return 0

    def waiting(self) -> bool:
        """Work of this connection is still running in a thread."""
        return self._in_thread is not None and not self._in_thread.done()

    async def settle(self) -> None:
        """Until the connection's work in a thread has ended (its own caller may have stopped waiting for it)."""
        while self._in_thread is not None and not self._in_thread.done():
            # Shielded: this caller being cancelled must not cancel that work for the caller still awaiting it.
            await asyncio.wait([asyncio.shield(asyncio.wrap_future(self._in_thread))])

    async def _thread(self, work: Callable[[], T]) -> T:
        if self.waiting():
            await self.settle()
        self._in_thread = future = _WAITERS.submit(self._waiting, work)
        return await asyncio.wrap_future(future)

    async def _run(self, sql: str, work: Callable[[], T], *, interruptible: bool = True) -> T:
        if self.waiting():
            await self.settle()
        self._interrupted = False
        self._deadline = time.perf_counter() + INLINE_BUDGET_SECONDS if interruptible and _reads_only(sql) else None
        try:
            return work()
        except sqlite3.OperationalError as exc:
            if not (self._interrupted or _busy(exc)):
                raise
        finally:
            self._deadline = None
        return await self._thread(work)

    def _waiting(self, work: Callable[[], T]) -> T:
        """In a worker thread: the work again, with the full busy timeout and no time budget."""
        self._conn.execute(f"PRAGMA busy_timeout={self._busy_timeout_ms}")
        self._conn.set_progress_handler(None, 0)  # no budget here, and no GIL taken back every few steps
        try:
            return work()
        finally:
            self._conn.execute("PRAGMA busy_timeout=0")
            self._conn.set_progress_handler(self._progress, PROGRESS_STEPS)

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    async def cursor(self) -> InlineCursor:
        return InlineCursor(self)

    async def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] | None = None) -> InlineCursor:
        return await InlineCursor(self).execute(sql, parameters)

    async def create_function(self, *args: Any, **kw: Any) -> None:
        self._conn.create_function(*args, **kw)

    async def commit(self) -> None:
        # Always in a thread: a commit may checkpoint the WAL into the database file and sync it to disk, which
        # can take longer than a whole update; with transactions grouped (storage/group_commit.py) commits are few.
        await self._thread(self._conn.commit)

    async def rollback(self) -> None:
        await self._run("ROLLBACK", self._conn.rollback, interruptible=False)

    async def close(self) -> None:
        if self.waiting():
            await self.settle()
        self._conn.close()

    def stop(self) -> None:
        """Forced close (the pool gave up on the connection): after the work still running in a thread, if any,
        in that thread (closing a connection another thread is using crashes the process)."""
        running = self._in_thread
        if running is not None and not running.done():
            running.add_done_callback(lambda _done: self._conn.close())
            return
        self._conn.close()


def creator(busy_timeout_ms: int) -> Callable[..., Any]:
    """The dialect's `async_creator_fn`: called with sqlite3.connect's arguments, awaited for the connection."""

    async def connect(database: str, **kw: Any) -> InlineConnection:
        kw.pop("timeout", None)  # the inline try never waits; the thread uses busy_timeout_ms
        kw["check_same_thread"] = False  # a call that must wait runs in a worker thread
        conn = sqlite3.connect(database, **kw)
        return InlineConnection(conn, busy_timeout_ms)

    return connect
