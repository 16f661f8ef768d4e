"""Delivery: a person's outbox rows to their channel, in order, at least once.

Each person has a sending lane (their rows go out one at a time, in order), so a slow platform holds up only that
person. A row is forgotten (deleted, in groups: `SentRows`) once sent; a failed send is rescheduled with back-off,
or dropped when the platform says it never will be delivered. Rows that could not go at once are sent by the
periodic sweep (`pending`); announcements go out at the platform's rate (`broadcast_forever`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cancel import unless_cancelled
from bot.channels.base import Busy, Channel, DeliveryError
from bot.locks import KeyedLocks
from bot.messages import Outgoing
from bot.ratelimit import Pace, Pacer, place
from bot.retrying import retrying
from bot.sent_rows import SentRows
from storage.db import is_transient, read_connection, read_session, write_transaction
from storage.locking import delivering
from storage.messaging import OutboxRepo, pending_for
from storage.models import utcnow
from storage.people import PeopleRepo

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_ATTEMPTS = 8
RETRY_BASE_SECONDS = 2.0
RETRY_MAX_SECONDS = 600.0
DELIVERY_CONCURRENCY = 16  # people the sweep sends to at once
BROADCAST_CONCURRENCY = 3  # people an announcement is sent to at once (paced all the same)


class Delivery:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], channels: dict[str, Channel], *,
                 shared_database: bool) -> None:
        self._sessions = sessions
        self._channels = channels  # the engine's: channels added later are seen here
        self._shared_database = shared_database  # other processes may commit rows for the same people
        self._sending = KeyedLocks()  # sending lane: one delivery per person at a time
        self._sent_rows = SentRows(sessions)  # sent rows, deleted in groups
        self._background: set[asyncio.Task[Any]] = set()
        self._pacer: Pacer | None = None  # the announcements' pacer, once they go out: every other send takes a place

    def track(self, coroutine: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """A task that must finish even if whoever awaits it is cancelled; `finish_tasks` waits for it."""
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def finish_tasks(self) -> None:
        """Wait for every tracked task, including those started meanwhile (at shutdown, and in tests)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def forgotten(self) -> None:
        """Wait until the deletion of every row sent so far has been tried."""
        await self._sent_rows.idle()

    async def each(self, people: list[str]) -> None:
        """Send each person's pending messages. What cannot go now stays in the outbox for the sweep."""
        for person in people:
            await self._safely(person)

    async def _safely(self, person: str, pace: Pace | None = None) -> None:
        try:
            async with self._sending.hold(person):
                await self._to(person, pace)
        except Exception as exc:
            unless_cancelled()
            if is_transient(exc):
                log.warning("delivery postponed: the database is busy (%s)", type(exc).__name__)
            else:
                log.exception("delivery failed; the outbox keeps the messages")

    async def _to(self, person: str, pace: Pace | None = None) -> None:
        """Send this person's pending outbox rows in order; stop at the first failure (order is kept).
        Call it holding the person's sending lane."""
        channel = self._channels.get(person.split(":", 1)[0])
        async with delivering(self._sessions, person) as mine:  # one worker at a time sends a person's messages
            # Until nothing is pending: rows another worker committed meanwhile go out too. With one process
            # (SQLite) whoever commits a row also delivers it, queued behind this lane, so one pass is enough.
            while mine and await self._send_pending(channel, person, pace) and self._shared_database:
                pass

    async def _send_pending(self, channel: Channel | None, person: str, pace: Pace | None) -> bool:
        """Send the person's pending rows in order, each forgotten before the next is sent (so a crash repeats
        at most the one in flight); True when all were sent (look again), False to stop."""
        # Taken before reading: a row whose deletion commits during the read is still in what the read returns.
        sent = frozenset(self._sent_rows.sent)
        async with read_connection(self._sessions) as connection:
            rows = await pending_for(connection, person)
        for row in rows:
            if row.id in sent:  # sent already; its deletion failed earlier or is under way
                if not await asyncio.shield(self._sent_rows.forget(row.id)):
                    return False
        rows = [row for row in rows if row.id not in sent]
        if not rows:
            return False
        for row in rows:
            if row.next_attempt_at > utcnow() and (row.attempts or row.last_error is not None):
                return False  # refused before (a 429 sets last_error without counting an attempt): not due yet
            # The send holds a place in the platform's window from its start to its end (a reply's place too,
            # ahead of an announcement's). Sending and marking the row sent go together: a shutdown never cuts
            # between them.
            async with place(pace, self._pacer):
                sending = self.track(self._send_row(channel, person, row.id, row.attempts, row.payload))
                forgotten = await asyncio.shield(sending)
            if forgotten is None or not await asyncio.shield(forgotten):
                return False
        return True

    async def _send_row(self, channel: Channel | None, person: str, row_id: int, attempts: int,
                        payload: str) -> asyncio.Future[bool] | None:
        """Send one row; on success the future of its deletion, None when it failed (and was rescheduled)."""
        outgoing = Outgoing.model_validate_json(payload)
        try:
            if channel is None:
                raise DeliveryError(f"no channel for {person.split(':', 1)[0]!r}")
            await channel.send(person, outgoing.reply)
        except DeliveryError as exc:
            await self._failed(person, row_id, attempts, exc)
            return None
        except Exception as exc:  # a channel bug must not lose the message
            log.exception("channel %s failed to send", channel.name if channel else "?")
            await self._failed(person, row_id, attempts, DeliveryError(type(exc).__name__))
            return None
        return self._sent_rows.forget(row_id)

    async def _failed(self, person: str, message_id: int, attempts: int, exc: DeliveryError) -> None:
        try:
            await retrying(lambda: self._record_failure(person, message_id, attempts, exc))
        except Busy:
            pass  # the row stays due as it was: the sweep tries it again

    async def _record_failure(self, person: str, message_id: int, attempts: int, exc: DeliveryError) -> None:
        async with write_transaction(self._sessions) as session:
            outbox = OutboxRepo(session)
            if exc.unreachable:
                log.info("a person cannot be reached (%s); their pending messages are dropped", exc)
                await PeopleRepo(session).mark_unreachable(person)
                return
            if exc.permanent or attempts + 1 >= MAX_ATTEMPTS:
                log.warning("dropping an undeliverable message after %d attempts: %s", attempts + 1, exc)
                await outbox.delivered(message_id)
                return
            delay = exc.retry_after if exc.retry_after is not None else min(
                RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** attempts)
            # A platform asking to slow down (retry_after) has not refused the message: it does not count as an
            # attempt, or a long broadcast from several workers would drop messages after MAX_ATTEMPTS 429s.
            await outbox.failed(message_id, str(exc), utcnow() + dt.timedelta(seconds=delay),
                                counted=exc.retry_after is None)

    async def pending(self) -> int:
        """Deliver every due outbox row (on start-up and periodically); returns how many people were served.
        Broadcast messages are left to `broadcasts`, which keeps to the platforms' rate."""
        async with read_session(self._sessions) as session:
            rows = await OutboxRepo(session).due(utcnow(), limit=1000, broadcasts=False)
        people = list(dict.fromkeys(row.person_ref for row in rows))
        # Several people at once (a slow platform delays each of them, not the whole queue); one at a time each.
        await self._people(people, DELIVERY_CONCURRENCY)
        return len(people)

    async def _people(self, people: list[str], at_once: int, pace: Pace | None = None) -> None:
        slots = asyncio.Semaphore(at_once)

        async def serve(person: str) -> None:
            async with slots:
                await self._safely(person, pace)

        await asyncio.gather(*(serve(person) for person in people))

    async def broadcasts(self, limit: int, pace: Pace | None = None) -> int:
        """Send up to `limit` due broadcast messages (each in its person's sending lane, in order);
        each send is made inside `pace()`."""
        async with read_session(self._sessions) as session:
            rows = await OutboxRepo(session).due(utcnow(), limit=limit, broadcasts=True)
        # Several people at once, so one slow send does not cost the others their places; the pace keeps the window.
        await self._people(list(dict.fromkeys(row.person_ref for row in rows)), BROADCAST_CONCURRENCY, pace)
        return len(rows)

    async def broadcast_forever(self, per_second: float) -> None:
        """Announcements at the platform's limit: `per_second` sends in any one second (see Pacer), counting the
        replies sent meanwhile."""
        pace = self._pacer = Pacer(per_second)
        while True:
            try:
                sent = await self.broadcasts(max(1, int(per_second)), pace)
            except Exception:
                unless_cancelled()
                log.exception("broadcast delivery failed")
                sent = 0
            if not sent:
                await asyncio.sleep(1.0)
