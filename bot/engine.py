"""The engine: one inbound → dedupe, lock, load, route, run, commit state + outbox together, deliver.

A crash between commit and delivery loses nothing: undelivered outbox rows are sent by the periodic sweep
(`deliver_pending`), which starts with the process. A busy database (SQLite locked past its busy timeout,
a PostgreSQL deadlock or lost connection) is retried for a while; after that `Busy` tells the channel to have
the platform send the update again, so nothing it confirmed is lost.

Each person has two lanes: one for handling (inbounds are committed one at a time, in order) and one for
sending (their outbox rows go out one at a time, in order). A slow platform holds up only the sending lane.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import after_commit
from bot.cancel import unless_cancelled
from bot.channels.base import Busy, Channel, DeliveryError
from bot.context import Community, Context, Repos
from bot.locks import KeyedLocks
from bot.messages import (
    AfterCommit,
    Choice,
    Inbound,
    InboundKind,
    NotifyPerson,
    Outgoing,
    RefreshCommands,
    Reply,
    ScheduleJob,
    SendReply,
)
from bot.ratelimit import FloodGuard, Pace, Pacer, place
from bot.roles import Role, has_role
from bot.routing import Router
from bot.sent_rows import SentRows
from lessons.catalog import Catalog
from lessons.textmatch import fold
from storage.db import is_transient, read_connection, read_session, write_transaction
from storage.escalations import EscalationsRepo
from storage.group_commit import GroupCommit
from storage.jobs import JobsRepo
from storage.locking import delivering, lock_person
from storage.media import MediaRepo
from storage.messaging import InboxRepo, OutboxRepo, pending_for
from storage.models import Person, utcnow
from storage.people import PeopleRepo

log = logging.getLogger(__name__)
T = TypeVar("T")

SLOW_DOWN = "Tin đến nhanh quá ạ. Mời chậm lại một chút, đợi vài giây rồi nhắn tiếp nhé."
SORRY = "Xin lỗi, Trợ lý số vừa gặp trục trặc khi xử lý tin này. Mời thử lại sau ít phút ạ."
MAX_ATTEMPTS = 8
RETRY_BASE_SECONDS = 2.0
RETRY_MAX_SECONDS = 600.0
INBOX_KEEP = dt.timedelta(days=7)
BUSY_BUDGET_SECONDS = 30.0  # how long a busy database is retried before the inbound is handed back
DELIVERY_CONCURRENCY = 16  # people the sweep sends to at once
BROADCAST_CONCURRENCY = 3  # people an announcement is sent to at once (paced all the same)


@dataclass
class Outcome:
    """What a committed inbound left to do: deliver to other people, refresh command menus."""

    others: set[str] = field(default_factory=set)
    refresh: list[str] = field(default_factory=list)
    later: list[after_commit.Work] = field(default_factory=list)  # ctx.after_commit


class Engine:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], router: Router, catalog: Catalog,
                 community: Community, channels: Mapping[str, Channel] | None = None,
                 flood: FloodGuard | None = None) -> None:
        self._sessions = sessions
        self._router = router
        self._catalog = catalog
        self._community = community
        self.channels: dict[str, Channel] = dict(channels or {})
        self._locks = KeyedLocks()  # handling lane: one inbound per person at a time
        self._sending = KeyedLocks()  # sending lane: one delivery per person at a time
        self._sent_rows = SentRows(sessions, self._retrying)  # sent rows, deleted in groups
        bind = sessions.kw.get("bind")
        self._shared_database = getattr(getattr(bind, "dialect", None), "name", "") == "postgresql"
        # One writer at a time on SQLite: inbounds committed at the same moment share one transaction. PostgreSQL
        # commits them side by side on separate connections instead.
        self._group = None if self._shared_database else GroupCommit(sessions)
        self._background: set[asyncio.Task[Any]] = set()
        self._flood = flood or FloodGuard()
        self._pacer: Pacer | None = None  # the announcements' pacer, once they go out: every other send takes a place

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self._sessions

    @property
    def community(self) -> Community:
        return self._community

    def add_channel(self, channel: Channel) -> None:
        self.channels[channel.name] = channel

    # ---- handling --------------------------------------------------------------------------------

    async def handle(self, inbound: Inbound, *, wait_delivery: bool = True) -> bool:
        """Handle one inbound; False when its key was seen before (nothing is done or sent).

        With wait_delivery=False it returns as soon as the state and replies are committed (a webhook can
        answer the platform at once) and the replies are sent by a background task.
        """
        if inbound.kind is not InboundKind.JOB:
            verdict = self._flood.check(inbound.person)
            if verdict != "ok":
                if verdict == "warn":
                    await self._slow_down(inbound.person)
                return False
        async with self._locks.hold(inbound.person):
            outcome = await self._process(inbound)
        if outcome is None:
            return False
        await self._refresh_commands(outcome.refresh)
        if wait_delivery:
            await self._deliver_then_later(inbound, outcome)
        else:
            task = asyncio.create_task(self._deliver_then_later(inbound, outcome))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        return True

    async def _deliver_then_later(self, inbound: Inbound, outcome: Outcome) -> None:
        await self._deliver_each([inbound.person, *outcome.others])
        if not outcome.later:
            return

        def context(repos: Repos, person: Person | None) -> Context:
            return Context(inbound=inbound, person=person, state=dict(person.state) if person is not None else {},
                           repos=repos, catalog=self._catalog, community=self._community, now=utcnow())

        effects = await after_commit.run(self._sessions, inbound, outcome.later, context, Reply(
            text=SORRY, choices=[[Choice(label="🏠 Về menu", payload="menu")]]))

        async def queue(session: AsyncSession) -> set[str]:
            return await after_commit.queue(session, inbound, effects, _remember_choices)

        async def commit() -> set[str]:
            if self._group is not None:
                return await self._group.run(queue)
            async with write_transaction(self._sessions) as session:
                return await queue(session)

        await self._deliver_each(sorted(await self._retrying(commit)))

    async def _slow_down(self, person: str) -> None:
        """Someone sends faster than a person types: one polite word, then their flood is dropped."""
        log.warning("flood from one person: inbounds dropped for a few seconds")

        async def warn() -> None:
            async with write_transaction(self._sessions) as session:
                warning = Outgoing(person=person, reply=Reply(text=SLOW_DOWN))
                await OutboxRepo(session).add(person, warning.model_dump_json())

        try:
            await self._retrying(warn)
        except Busy:
            return  # the flood is dropped all the same; the warning is a courtesy
        await self._deliver_each([person])

    async def _refresh_commands(self, people: list[str]) -> None:
        """After a role change: channels with per-person command menus (Telegram) update that person's."""
        for person in people:
            channel = self.channels.get(person.split(":", 1)[0])
            refresh = getattr(channel, "refresh_commands", None)
            if refresh is None:
                continue
            try:
                async with read_session(self._sessions) as session:
                    row = await PeopleRepo(session).by_ref(person)
                roles = [] if row is None else [role for role, has in ((Role.MENTOR, row.is_mentor),
                                                                        (Role.OFFICIAL, row.is_official)) if has]
                await refresh(person, roles)
            except Exception:
                log.exception("refreshing the command menu failed")

    async def _deliver_each(self, people: list[str]) -> None:
        """Send each person's pending messages. What cannot go now stays in the outbox for the sweep."""
        for person in people:
            await self._deliver_safely(person)

    async def _deliver_safely(self, person: str, pace: Pace | None = None) -> None:
        try:
            async with self._sending.hold(person):
                await self._deliver_to(person, pace)
        except Exception as exc:
            unless_cancelled()
            if is_transient(exc):
                log.warning("delivery postponed: the database is busy (%s)", type(exc).__name__)
            else:
                log.exception("delivery failed; the outbox keeps the messages")

    def _track(self, coroutine: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """A task that must finish even if whoever awaits it is cancelled; `drain` waits for it."""
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def drain(self) -> None:
        """Wait for background deliveries (at shutdown, and in tests)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)
        if self._group is not None:
            await self._group.idle()
        await self._sent_rows.idle()

    async def _process(self, inbound: Inbound) -> Outcome | None:
        try:
            return await self._retrying(lambda: self._commit(inbound))
        except Busy:
            raise
        except Exception:
            log.exception("handler failed on a %s inbound", inbound.kind.value)
        # The handler failed and its transaction rolled back: keep the key (so a redelivery does not
        # fail again the same way) and apologise; the person's saved progress is untouched.
        return await self._retrying(lambda: self._apologise(inbound))

    async def _commit(self, inbound: Inbound) -> Outcome | None:
        if self._group is not None:  # SQLite: with whatever else is being committed right now
            return await self._group.run(lambda session: self._claimed(session, inbound))
        async with write_transaction(self._sessions) as session:
            return await self._claimed(session, inbound)

    async def _claimed(self, session: AsyncSession, inbound: Inbound) -> Outcome | None:
        await lock_person(session, inbound.person)  # other workers (PostgreSQL) wait their turn
        if not await InboxRepo(session).claim(inbound.key):
            return None
        return await self._run(session, inbound)

    async def _apologise(self, inbound: Inbound) -> Outcome | None:
        async with write_transaction(self._sessions) as session:
            if not await InboxRepo(session).claim(inbound.key):
                return None
            reply = Reply(text=SORRY, choices=[[Choice(label="🏠 Về menu", payload="menu")]])
            outgoing = Outgoing(person=inbound.person, reply=reply)
            await OutboxRepo(session).add(inbound.person, outgoing.model_dump_json())
        return Outcome()

    @staticmethod
    async def _retrying(work: Callable[[], Awaitable[T]]) -> T:
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

    async def _run(self, session: AsyncSession, inbound: Inbound) -> Outcome:
        repos = Repos.bound(session)
        if inbound.kind is InboundKind.JOB and not await JobsRepo(session).finish(int(inbound.data["job_id"])):
            return Outcome()  # already fired (another worker, or an earlier run)
        person = await repos.people.by_ref(inbound.person)
        if person is not None and person.unreachable_since is not None:
            person.unreachable_since = None  # they wrote to us: reachable again
        state: dict[str, Any] = dict(person.state) if person is not None else {}
        inbound = _as_choice(inbound, state)
        ctx = Context(inbound=inbound, person=person, state=state, repos=repos, catalog=self._catalog,
                      community=self._community, now=utcnow())
        route = self._router.resolve(inbound, state.get("flow"))
        if route is not None and not self._allowed(route.requires, person):
            route = self._router.forbidden_route
        if route is not None:
            await route.handler(inbound, ctx)
        outbox = OutboxRepo(session)
        others: set[str] = set()
        refresh: list[str] = []
        later: list[after_commit.Work] = []
        unreachable = await repos.people.unreachable(
            {e.person for e in ctx.effects if isinstance(e, NotifyPerson)} - {inbound.person})
        for effect in ctx.effects:
            if isinstance(effect, NotifyPerson) and effect.person in unreachable:
                continue  # they blocked the bot: not messaged again until they write
            if isinstance(effect, ScheduleJob):
                await JobsRepo(session).schedule(effect.kind, effect.run_at, effect.payload)
                continue
            if isinstance(effect, RefreshCommands):
                refresh.append(effect.person)
                continue
            if isinstance(effect, AfterCommit):
                later.append(effect.work)
                continue
            if isinstance(effect, SendReply) and inbound.kind is InboundKind.JOB:
                log.warning("a %s job tried to reply to nobody; use ctx.notify", inbound.command)
                continue
            if isinstance(effect, SendReply):
                target, reply = inbound.person, effect.reply
                _remember_choices(ctx.state, reply)
            elif isinstance(effect, NotifyPerson):
                target, reply = effect.person, effect.reply
                others.add(target)
                if reply.choices and target != inbound.person:
                    # Their newest message's choices are what a typed number means (Zalo has no buttons).
                    recipient = await repos.people.by_ref(target)
                    if recipient is not None:
                        recipient.state = _remember_choices(dict(recipient.state), reply)
            await outbox.add(target, Outgoing(person=target, reply=reply).model_dump_json())
        if ctx.person is not None and not ctx.erased:
            await repos.people.save_state(ctx.person, dict(ctx.state), ctx.now)
        others.discard(inbound.person)
        return Outcome(others, refresh, later)

    @staticmethod
    def _allowed(role: Role, person: Person | None) -> bool:
        if person is None:
            return has_role(role, consented=False, is_mentor=False, is_official=False)
        return has_role(role, consented=True, is_mentor=person.is_mentor, is_official=person.is_official)

    # ---- delivery --------------------------------------------------------------------------------

    async def _deliver_to(self, person: str, pace: Pace | None = None) -> None:
        """Send this person's pending outbox rows in order; stop at the first failure (order is kept).
        Call it holding the person's sending lane."""
        channel = self.channels.get(person.split(":", 1)[0])
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
                sending = self._track(self._send_row(channel, person, row.id, row.attempts, row.payload))
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
            await self._retrying(lambda: self._record_failure(person, message_id, attempts, exc))
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

    async def deliver_pending(self) -> int:
        """Deliver every due outbox row (on start-up and periodically); returns how many people were served.
        Broadcast messages are left to `deliver_broadcasts`, which keeps to the platforms' rate."""
        async with read_session(self._sessions) as session:
            rows = await OutboxRepo(session).due(utcnow(), limit=1000, broadcasts=False)
        people = list(dict.fromkeys(row.person_ref for row in rows))
        # Several people at once (a slow platform delays each of them, not the whole queue); one at a time each.
        await self._deliver_people(people, DELIVERY_CONCURRENCY)
        return len(people)

    async def _deliver_people(self, people: list[str], at_once: int, pace: Pace | None = None) -> None:
        slots = asyncio.Semaphore(at_once)

        async def serve(person: str) -> None:
            async with slots:
                await self._deliver_safely(person, pace)

        await asyncio.gather(*(serve(person) for person in people))

    async def forget_old_keys(self, older_than: dt.timedelta = INBOX_KEEP) -> None:
        """Platforms redeliver within minutes; keys older than this only take space. Expired media go too,
        what people wrote in help requests closed longer ago than the retention period, and privacy-request log
        entries and refusals past theirs."""
        async with write_transaction(self._sessions) as session:
            await InboxRepo(session).purge(utcnow() - older_than)
            await MediaRepo(session).purge()
            await EscalationsRepo(session).purge_closed(utcnow() - self._community.help_retention)
            await Repos.bound(session).data_requests.purge(utcnow(), self._community.privacy_retention)

    async def deliver_broadcasts(self, limit: int, pace: Pace | None = None) -> int:
        """Send up to `limit` due broadcast messages (each in its person's sending lane, in order);
        each send is made inside `pace()`."""
        async with read_session(self._sessions) as session:
            rows = await OutboxRepo(session).due(utcnow(), limit=limit, broadcasts=True)
        # Several people at once, so one slow send does not cost the others their places; the pace keeps the window.
        await self._deliver_people(list(dict.fromkeys(row.person_ref for row in rows)), BROADCAST_CONCURRENCY, pace)
        return len(rows)

    async def broadcast_forever(self, per_second: float) -> None:
        """Announcements at the platform's limit: `per_second` sends in any one second (see Pacer), counting the
        replies sent meanwhile."""
        pace = self._pacer = Pacer(per_second)
        while True:
            try:
                sent = await self.deliver_broadcasts(max(1, int(per_second)), pace)
            except Exception:
                unless_cancelled()
                log.exception("broadcast delivery failed")
                sent = 0
            if not sent:
                await asyncio.sleep(1.0)

    async def run_due_jobs(self, now: dt.datetime | None = None) -> int:
        """Fire every due job once (each through the engine, so its effects are committed with it)."""
        async with read_session(self._sessions) as session:
            jobs = await JobsRepo(session).due(now)
        for job in jobs:
            await self.handle(Inbound(person=f"system:job:{job.id}", kind=InboundKind.JOB, key=f"job:{job.id}",
                                      command=job.kind,
                                      data={**job.payload, "job_id": job.id, "run_at": job.run_at.isoformat()}))
        return len(jobs)

    async def sweep_forever(self, interval: float = 2.0) -> None:
        next_purge = 0.0
        loop = asyncio.get_running_loop()
        while True:
            try:
                await self.run_due_jobs()
                await self.deliver_pending()
                if loop.time() >= next_purge:
                    await self.forget_old_keys()
                    next_purge = loop.time() + 3600
            except Exception:
                unless_cancelled()
                log.exception("outbox sweep failed")
            await asyncio.sleep(interval)


def _remember_choices(state: dict[str, Any], reply: Reply) -> dict[str, Any]:
    """Typed numbers and labels refer to the choices of the newest message (none, if it has none)."""
    state["offered"] = [c.payload for c in reply.flat_choices()]
    state["labels"] = [c.label for c in reply.flat_choices()]
    state["numbered"] = reply.numbered
    return state


def _as_choice(inbound: Inbound, state: Mapping[str, Any]) -> Inbound:
    """Typed text that names one of the choices last offered (its number or its label) is that choice."""
    if inbound.kind is not InboundKind.TEXT:
        return inbound
    offered: list[str] = list(state.get("offered") or [])
    labels: list[str] = list(state.get("labels") or [])
    typed = fold(inbound.text)
    if not offered or not typed:
        return inbound
    payload: str | None = None
    if state.get("numbered", True) and typed.isascii() and typed.isdigit() and 1 <= int(typed) <= len(offered):
        payload = offered[int(typed) - 1]
    else:
        for label, candidate in zip(labels, offered, strict=False):
            if fold(label) == typed:
                payload = candidate
                break
    if payload is None:
        return inbound
    return inbound.model_copy(update={"kind": InboundKind.CHOICE, "payload": payload})
