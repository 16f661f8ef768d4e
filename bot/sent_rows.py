"""Forgetting sent outbox rows in groups: one transaction deletes the rows that every delivery running at the same
time has sent (a group commit), instead of one write transaction per message.

A row is remembered as sent from the moment its send succeeds until its deletion commits, so this process never
sends it again, even while the database is too busy to delete it. A person's next row is sent only once the
previous one is forgotten, so a crash repeats at most the one row in flight per person (delivery is at least once).
"""

from __future__ import annotations

import asyncio
import functools
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cancel import unless_cancelled
from bot.retrying import retrying
from storage.db import write_transaction
from storage.messaging import OutboxRepo

log = logging.getLogger(__name__)


class SentRows:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self.sent: set[int] = set()  # sent, deletion not yet committed
        self._waiting: dict[int, asyncio.Future[bool]] = {}
        self._task: asyncio.Task[None] | None = None

    def forget(self, row_id: int) -> asyncio.Future[bool]:
        """Mark a row sent and have it deleted with the next group; the future says whether the deletion
        committed (False: the database stayed busy; the row is still known as sent and is tried again later)."""
        self.sent.add(row_id)
        future = self._waiting.get(row_id)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._waiting[row_id] = future
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush(), name="outbox-forget")
        return future

    async def idle(self) -> None:
        """Wait until every deletion asked for so far has been tried (at shutdown)."""
        while self._task is not None and not self._task.done():
            await asyncio.wait([self._task])

    async def _flush(self) -> None:
        while self._waiting:
            await asyncio.sleep(0)  # deliveries running now add their rows to this group
            group = dict(self._waiting)
            try:
                await retrying(functools.partial(self._delete, list(group)))
                done = True
            except Exception:
                unless_cancelled()
                log.warning("sent messages could not be forgotten yet; they are not sent again", exc_info=True)
                done = False
            for row_id, future in group.items():
                self._waiting.pop(row_id, None)
                if done:
                    self.sent.discard(row_id)
                if not future.done():
                    future.set_result(done)
            if not done:
                return

    async def _delete(self, ids: list[int]) -> None:
        async with write_transaction(self._sessions) as session:
            await OutboxRepo(session).delivered_many(ids)
