"""Group commit on SQLite: the write transactions that queue at the same moment run one after another inside one
transaction, and commit once.

A SQLite file has one writer at a time, so the process's write transactions already run one by one (the write
queue in storage/db.py). Each paid for its own session, connection checkout, BEGIN IMMEDIATE, COMMIT and close,
which under load cost more than the statements. Here every piece of work waiting when a group starts joins it:
its statements run in the group's session, in arrival order, as if each had its own transaction right after the
previous one. Each caller gets its own result once the whole group has committed, so nothing is answered or sent
before it is durable.

When a piece fails, the group is rolled back and each piece runs again alone, in order, in its own transaction:
the others commit, and the failing one gets its own error (its caller handles it as before). Work must therefore be
safe to run again, as every engine transaction already is (busy databases are retried the same way).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.db import write_transaction

log = logging.getLogger(__name__)
T = TypeVar("T")
Work = Callable[[AsyncSession], Awaitable[T]]
MAX_GROUP = 200  # pieces in one transaction: a bound on how long the write lock is held at once


class _Piece(Generic[T]):
    __slots__ = ("future", "work")

    def __init__(self, work: Work[T], future: asyncio.Future[T]) -> None:
        self.work = work
        self.future = future


class GroupCommit:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._queue: list[_Piece[Any]] = []
        self._task: asyncio.Task[None] | None = None

    async def run(self, work: Work[T]) -> T:
        """Run `work` with a session inside a write transaction; return its result once that has committed."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append(_Piece(work, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="group-commit")
        # A caller that stops waiting does not stop the group: its work commits or fails with the others.
        return await asyncio.shield(future)

    async def idle(self) -> None:
        """Wait until every piece queued so far has committed or failed (at shutdown)."""
        while self._task is not None and not self._task.done():
            await asyncio.wait([self._task])

    async def _drain(self) -> None:
        try:
            await self._groups()
        except BaseException:
            for piece in self._queue:  # cancelled (the loop is closing): nobody is left waiting forever
                if not piece.future.done():
                    piece.future.set_exception(asyncio.CancelledError())
            self._queue = []
            raise

    async def _groups(self) -> None:
        while self._queue:
            await asyncio.sleep(0)  # work arriving at this moment joins the group
            group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
            try:
                await self._one_group(group)
            except BaseException:
                self._queue[:0] = [piece for piece in group if not piece.future.done()]
                raise

    async def _one_group(self, group: list[_Piece[Any]]) -> None:
        if len(group) == 1:
            await self._alone(group[0])
            return
        try:
            results = await self._together(group)
        except Exception:
            # Someone's work failed (or the commit did): nothing of the group was written. Each alone, in order.
            for piece in group:
                await self._alone(piece)
            return
        for piece, result in zip(group, results, strict=True):
            if not piece.future.done():
                piece.future.set_result(result)

    async def _together(self, group: list[_Piece[Any]]) -> list[Any]:
        async with write_transaction(self._sessions) as session:
            return [await piece.work(session) for piece in group]

    async def _alone(self, piece: _Piece[Any]) -> None:
        try:
            async with write_transaction(self._sessions) as session:
                result = await piece.work(session)
        except Exception as exc:
            if not piece.future.done():
                piece.future.set_exception(exc)
        else:
            if not piece.future.done():
                piece.future.set_result(result)
