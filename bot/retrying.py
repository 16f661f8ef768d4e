"""A transaction run again while the database is busy or away, for a while; then `Busy`, which tells a channel to
have the platform send the update again, so nothing it confirmed is lost.

Busy means SQLite locked past its busy timeout, a PostgreSQL deadlock or a lost connection: nothing was written,
so running the whole transaction again is safe.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.channels.base import Busy
from storage.db import is_transient

log = logging.getLogger(__name__)
T = TypeVar("T")

BUSY_BUDGET_SECONDS = 30.0  # how long a busy database is retried before the work is handed back


async def retrying(work: Callable[[], Awaitable[T]]) -> T:
    """Run a transaction; when the database is busy or away (nothing was written), run it again, for up
    to BUSY_BUDGET_SECONDS, then raise Busy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BUSY_BUDGET_SECONDS
    pause = 0.1
    while True:
        try:
            return await work()
        except Exception as exc:
            if not is_transient(exc):
                raise
            if loop.time() + pause > deadline:
                log.error("the database stayed busy for %.0f s: the work is handed back", BUSY_BUDGET_SECONDS)
                raise Busy(type(exc).__name__) from exc
            log.warning("the database is busy (%s): trying again", type(exc).__name__)
        await asyncio.sleep(pause)
        pause = min(2.0, pause * 2)
