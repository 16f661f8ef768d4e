"""The database engine and sessions.

SQLite (the default) gets WAL, a busy timeout, foreign keys, secure_delete (deleted personal data is
overwritten, not left in free pages) and BEGIN IMMEDIATE, so that concurrent writers queue on the busy
timeout instead of failing half-way through a transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import pathlib
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from storage import sqlite_inline

SQLITE_BUSY_TIMEOUT_MS = 10_000
SQLITE_POOL_SIZE = 32


# PostgreSQL SQLSTATEs worth a retry: serialization failure, deadlock, lock not available, server shutting
# down or restarting, and every connection exception (class 08).
# 53300: too many connections (the server's max_connections is shared by every worker's pool).
TRANSIENT_SQLSTATES = {"40001", "40P01", "53300", "55P03", "57P01", "57P02", "57P03"}
DEFAULT_POOL_SIZE = 10


def is_transient(exc: BaseException) -> bool:
    """The database was busy or briefly away: the same work may well succeed if it is tried again."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    text = str(exc.orig).lower()
    if "database is locked" in text or "database table is locked" in text:
        return True  # SQLite: another writer held the file past the busy timeout
    code = str(getattr(exc.orig, "pgcode", None) or getattr(exc.orig, "sqlstate", None) or "")
    return code in TRANSIENT_SQLSTATES or code.startswith("08")


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, echo: bool = False, pool_size: int = DEFAULT_POOL_SIZE) -> AsyncEngine:
    """PostgreSQL: up to 2 × pool_size connections per process (each update holds one for its transaction,
    delivery briefly a second); N workers need 2 × N × pool_size below the server's max_connections."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(url, echo=echo, pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size,
                                   pool_timeout=60)
    database = parsed.database or ""
    if database and database != ":memory:":
        pathlib.Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    # A fixed set of connections that bursts queue for: an overflow connection is opened (a thread, the file, the
    # pragmas) and closed for each use, which cost more CPU than the statements under load. Writers wait for the
    # in-process write queue before taking a connection, so a waiting writer never holds one.
    # Statements run on the loop's thread unless they would wait (storage/sqlite_inline.py).
    engine = create_async_engine(
        url,
        echo=echo,
        pool_size=SQLITE_POOL_SIZE, max_overflow=0, pool_timeout=60,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "isolation_level": None,
                      "async_creator_fn": sqlite_inline.creator(SQLITE_BUSY_TIMEOUT_MS)},
    )
    _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # the busy timeout is the inline connection's own
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers take the write lock up front (a deferred transaction that reads, then writes after another
        # writer committed, fails at once instead of waiting); readers (read_session) never take it.
        read_only = connection.get_execution_options().get(READ_ONLY_OPTION, False)
        if read_only == ONE_READ:
            return  # one SELECT: SQLite's own transaction of the statement is the snapshot (read_connection)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


READ_ONLY_OPTION = "hocvuso_read_only"
ONE_READ = "one statement"  # READ_ONLY_OPTION of read_connection


@contextlib.asynccontextmanager
async def read_session(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session that only reads. On SQLite its transaction is deferred: with WAL it neither waits for the write
    lock nor holds it, so reads never queue behind writers (every other session begins IMMEDIATE)."""
    async with sessions() as session:
        await session.connection(execution_options={READ_ONLY_OPTION: True})
        yield session


@contextlib.asynccontextmanager
async def read_connection(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncConnection]:
    """A Core connection for one SELECT (as read_session, without an ORM session: for the busiest reads). On SQLite
    no BEGIN is sent: a single statement is its own consistent snapshot. Run one statement on it, not several."""
    bind = sessions.kw.get("bind")
    assert isinstance(bind, AsyncEngine)
    async with bind.connect() as connection:
        yield await connection.execution_options(**{READ_ONLY_OPTION: ONE_READ})


_WRITERS: weakref.WeakKeyDictionary[Any, asyncio.Lock] = weakref.WeakKeyDictionary()
# Set inside write_transaction: this task (and what it starts) holds the process's write queue.
_WRITING: contextvars.ContextVar[bool] = contextvars.ContextVar("hocvuso_writing", default=False)


def _writers(engine: AsyncEngine) -> asyncio.Lock:
    key = engine.sync_engine
    if key not in _WRITERS:
        _WRITERS[key] = asyncio.Lock()
    return _WRITERS[key]


@contextlib.asynccontextmanager
async def write_transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session in a write transaction, committed on leaving (rolled back on an exception).

    On SQLite the process's writers queue here, in order, rather than on the file lock: SQLite's busy handler
    sleeps up to 100 ms between tries, so writers polling the lock wait far longer than the transactions take.
    The busy timeout still applies to writers in other processes (a backup, an admin command). Never nest one
    write_transaction in another on the same database (the queue is not re-entrant)."""
    bind = sessions.kw.get("bind")
    lock: contextlib.AbstractAsyncContextManager[Any] = contextlib.nullcontext()
    if isinstance(bind, AsyncEngine) and bind.dialect.name == "sqlite":
        lock = _writers(bind)
    async with lock, sessions() as session, session.begin():
        writing = _WRITING.set(True)
        try:
            yield session
        finally:
            _WRITING.reset(writing)


@contextlib.asynccontextmanager
async def readers_beside(session: AsyncSession, count: int) -> AsyncIterator[list[AsyncSession]]:
    """`count` read-only sessions on `session`'s database, for reads meant to run at the same time: a report's long
    SELECTs, each on its own connection (on SQLite, in a thread of its own, so that they use every core). None (an
    empty list) when `session` is not bound to an engine: the caller then reads on `session` alone.

    They see what was committed when they were opened, not `session`'s own uncommitted writes. On SQLite their
    snapshots are taken together while no writer of this process can commit: either this task is inside a write
    transaction (the others queue behind it), or the write queue is held while they open. On PostgreSQL each
    statement sees what was committed when it started, as on `session` (READ COMMITTED)."""
    engine = session.bind
    if not isinstance(engine, AsyncEngine) or count < 1:
        yield []
        return
    async with contextlib.AsyncExitStack() as stack:
        readers = [await stack.enter_async_context(AsyncSession(engine, expire_on_commit=False))
                   for _ in range(count)]
        if engine.dialect.name == "sqlite":
            async with contextlib.nullcontext() if _WRITING.get() else _writers(engine):
                for reader in readers:  # deferred BEGIN, then a read: the snapshot is taken here
                    connection = await reader.connection(execution_options={READ_ONLY_OPTION: True})
                    await connection.exec_driver_sql("SELECT 1 FROM sqlite_master LIMIT 1")
        yield readers


Read = Callable[[AsyncSession], Coroutine[Any, Any, Any]]


@contextlib.asynccontextmanager
async def reads_beside(session: AsyncSession, *reads: Read) -> AsyncIterator[list[asyncio.Future[Any]]]:
    """Start each of `reads` on a reader of its own (`readers_beside`); the body gets their futures, in order, and
    awaits each where it needs the result, reading on `session` meanwhile if it likes. Without readers each read
    runs on `session` first, one after another. If a read or the body fails, what still runs is cancelled and the
    first error is raised as it is (not as an exception group)."""
    async with readers_beside(session, len(reads)) as readers:
        if not readers:
            done = []
            for read in reads:
                done.append(future := asyncio.get_running_loop().create_future())
                future.set_result(await read(session))
            yield done
            return
        try:
            async with asyncio.TaskGroup() as group:
                yield [group.create_task(read(reader)) for read, reader in zip(reads, readers, strict=True)]
        except BaseExceptionGroup as failed:
            first = next((e for e in failed.exceptions if not isinstance(e, asyncio.CancelledError)),
                         failed.exceptions[0])
            raise first from None


async def read_together(session: AsyncSession, *reads: Read) -> list[Any]:
    """Each of `reads` on a reader of its own, all at the same time (`reads_beside`); their results in order."""
    async with reads_beside(session, *reads) as running:
        return [await future for future in running]


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
