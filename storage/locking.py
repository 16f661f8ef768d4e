"""Serialising one person's work across processes. SQLite needs nothing more than BEGIN IMMEDIATE (one writer at a
time, and one process); on PostgreSQL several workers share the database, so advisory locks keyed by the person
make their updates apply one at a time and their messages go out once, in order."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

_XACT = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")
_TRY = text("SELECT pg_try_advisory_lock(hashtextextended(:key, 0))")
_UNLOCK = text("SELECT pg_advisory_unlock(hashtextextended(:key, 0))")


def _postgres(session: AsyncSession) -> bool:
    return session.bind.dialect.name == "postgresql"


async def lock_person(session: AsyncSession, ref: str) -> None:
    """Inside a transaction: wait until no other worker is handling this person; held until commit."""
    if _postgres(session):
        await session.execute(_XACT, {"key": f"person:{ref}"})


@asynccontextmanager
async def delivering(sessions: async_sessionmaker[AsyncSession], ref: str) -> AsyncIterator[bool]:
    """While one worker sends a person's outbox, no other does (each message once, in order). Yields False when
    another worker holds it: that worker sends whatever is pending before letting go, so there is nothing to do
    (and no connection is held waiting)."""
    bind = sessions.kw.get("bind")
    if not isinstance(bind, AsyncEngine) or bind.dialect.name != "postgresql":
        yield True
        return
    # The lock's connection is held while the delivery opens sessions of its own from the same pool: with as many
    # deliveries as connections, each would wait for another's. At most half the pool holds delivery locks.
    async with _delivery_slots(bind), bind.connect() as connection:  # a session-level lock lives on one connection
        got = bool((await connection.execute(_TRY, {"key": f"deliver:{ref}"})).scalar())
        await connection.commit()
        try:
            yield got
        finally:
            if got:
                await connection.execute(_UNLOCK, {"key": f"deliver:{ref}"})
                await connection.commit()


_SLOTS: weakref.WeakKeyDictionary[Any, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def _delivery_slots(bind: AsyncEngine) -> asyncio.Semaphore:
    key = bind.sync_engine
    if key not in _SLOTS:
        size = getattr(bind.sync_engine.pool, "size", lambda: 10)()
        _SLOTS[key] = asyncio.Semaphore(max(1, int(size) // 2))
    return _SLOTS[key]
