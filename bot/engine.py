"""The engine: one inbound → dedupe, lock, load, route, run, commit state + outbox together, deliver.

A crash between commit and delivery loses nothing: undelivered outbox rows are sent on restart
(`deliver_pending`) and by the periodic sweep.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.base import Channel, DeliveryError
from bot.context import Community, Context, Repos
from bot.locks import KeyedLocks
from bot.messages import (
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
from bot.ratelimit import FloodGuard
from bot.roles import Role, has_role
from bot.routing import Router
from lessons.catalog import Catalog
from lessons.textmatch import fold
from storage.escalations import EscalationsRepo
from storage.jobs import JobsRepo
from storage.locking import delivering, lock_person
from storage.media import MediaRepo
from storage.messaging import InboxRepo, OutboxRepo
from storage.models import Person, utcnow
from storage.people import PeopleRepo

log = logging.getLogger(__name__)

SLOW_DOWN = "Tin đến nhanh quá ạ. Mời chậm lại một chút, đợi vài giây rồi nhắn tiếp nhé."
SORRY = "Xin lỗi, Trợ lý số vừa gặp trục trặc khi xử lý tin này. Mời thử lại sau ít phút ạ."
MAX_ATTEMPTS = 8
RETRY_BASE_SECONDS = 2.0
RETRY_MAX_SECONDS = 600.0
INBOX_KEEP = dt.timedelta(days=7)


@dataclass
class Outcome:
    """What a committed inbound left to do: deliver to other people, refresh command menus."""

    others: set[str] = field(default_factory=set)
    refresh: list[str] = field(default_factory=list)


class Engine:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], router: Router, catalog: Catalog,
                 community: Community, channels: Mapping[str, Channel] | None = None,
                 flood: FloodGuard | None = None) -> None:
        self._sessions = sessions
        self._router = router
        self._catalog = catalog
        self._community = community
        self.channels: dict[str, Channel] = dict(channels or {})
        self._locks = KeyedLocks()
        self._background: set[asyncio.Task[None]] = set()
        self._flood = flood or FloodGuard()

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
            if wait_delivery:
                await self._deliver_to(inbound.person)
        await self._refresh_commands(outcome.refresh)
        if wait_delivery:
            await self._deliver_each(list(outcome.others))
        else:
            task = asyncio.create_task(self._deliver_each([inbound.person, *outcome.others]))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        return True

    async def _slow_down(self, person: str) -> None:
        """Someone sends faster than a person types: one polite word, then their flood is dropped."""
        log.warning("flood from one person: inbounds dropped for a few seconds")
        async with self._sessions() as session, session.begin():
            warning = Outgoing(person=person, reply=Reply(text=SLOW_DOWN))
            await OutboxRepo(session).add(person, warning.model_dump_json())
        async with self._locks.hold(person):
            await self._deliver_to(person)

    async def _refresh_commands(self, people: list[str]) -> None:
        """After a role change: channels with per-person command menus (Telegram) update that person's."""
        for person in people:
            channel = self.channels.get(person.split(":", 1)[0])
            refresh = getattr(channel, "refresh_commands", None)
            if refresh is None:
                continue
            async with self._sessions() as session:
                row = await PeopleRepo(session).by_ref(person)
            roles = [] if row is None else [role for role, has in ((Role.MENTOR, row.is_mentor),
                                                                    (Role.OFFICIAL, row.is_official)) if has]
            try:
                await refresh(person, roles)
            except Exception:
                log.exception("refreshing the command menu failed")

    async def _deliver_each(self, people: list[str]) -> None:
        for person in people:
            async with self._locks.hold(person):
                await self._deliver_to(person)

    async def drain(self) -> None:
        """Wait for background deliveries (at shutdown, and in tests)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def _process(self, inbound: Inbound) -> Outcome | None:
        try:
            async with self._sessions() as session, session.begin():
                await lock_person(session, inbound.person)  # other workers (PostgreSQL) wait their turn
                if not await InboxRepo(session).claim(inbound.key):
                    return None
                return await self._run(session, inbound)
        except Exception:
            log.exception("handler failed on a %s inbound", inbound.kind.value)
        # The handler failed and its transaction rolled back: keep the key (so a redelivery does not
        # fail again the same way) and apologise; the person's saved progress is untouched.
        async with self._sessions() as session, session.begin():
            if not await InboxRepo(session).claim(inbound.key):
                return None
            reply = Reply(text=SORRY, choices=[[Choice(label="🏠 Về menu", payload="menu")]])
            outgoing = Outgoing(person=inbound.person, reply=reply)
            await OutboxRepo(session).add(inbound.person, outgoing.model_dump_json())
        return Outcome()

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
            ctx.person.state = dict(ctx.state)
            ctx.person.last_seen_at = ctx.now
        others.discard(inbound.person)
        return Outcome(others, refresh)

    @staticmethod
    def _allowed(role: Role, person: Person | None) -> bool:
        if person is None:
            return has_role(role, consented=False, is_mentor=False, is_official=False)
        return has_role(role, consented=True, is_mentor=person.is_mentor, is_official=person.is_official)

    # ---- delivery --------------------------------------------------------------------------------

    async def _deliver_to(self, person: str) -> None:
        """Send this person's pending outbox rows in order; stop at the first failure (order is kept)."""
        channel = self.channels.get(person.split(":", 1)[0])
        async with delivering(self._sessions, person) as mine:  # one worker at a time sends a person's messages
            while mine:  # until nothing is pending: rows committed by another worker meanwhile go out too
                async with self._sessions() as session:
                    rows = await OutboxRepo(session).pending_for(person)
                if not rows:
                    return
                for row in rows:
                    if row.next_attempt_at > utcnow() and row.attempts:
                        return
                    # Sending and forgetting the row go together: a shutdown never cuts between them.
                    if not await asyncio.shield(self._send_row(channel, person, row.id, row.attempts,
                                                               row.payload)):
                        return

    async def _send_row(self, channel: Channel | None, person: str, row_id: int, attempts: int,
                        payload: str) -> bool:
        outgoing = Outgoing.model_validate_json(payload)
        try:
            if channel is None:
                raise DeliveryError(f"no channel for {person.split(':', 1)[0]!r}")
            await channel.send(person, outgoing.reply)
        except DeliveryError as exc:
            await self._failed(person, row_id, attempts, exc)
            return False
        except Exception as exc:  # a channel bug must not lose the message
            log.exception("channel %s failed to send", channel.name if channel else "?")
            await self._failed(person, row_id, attempts, DeliveryError(type(exc).__name__))
            return False
        async with self._sessions() as session, session.begin():
            await OutboxRepo(session).delivered(row_id)
        return True

    async def _failed(self, person: str, message_id: int, attempts: int, exc: DeliveryError) -> None:
        async with self._sessions() as session, session.begin():
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
            await outbox.failed(message_id, str(exc), utcnow() + dt.timedelta(seconds=delay))

    async def deliver_pending(self) -> int:
        """Deliver every due outbox row (on start-up and periodically); returns how many people were served.
        Broadcast messages are left to `deliver_broadcasts`, which keeps to the platforms' rate."""
        async with self._sessions() as session:
            rows = await OutboxRepo(session).due(utcnow(), limit=1000, broadcasts=False)
        people = list(dict.fromkeys(row.person_ref for row in rows))
        for person in people:
            async with self._locks.hold(person):
                await self._deliver_to(person)
        return len(people)

    async def forget_old_keys(self, older_than: dt.timedelta = INBOX_KEEP) -> None:
        """Platforms redeliver within minutes; keys older than this only take space. Expired media go too,
        and what people wrote in help requests closed longer ago than the retention period."""
        async with self._sessions() as session, session.begin():
            await InboxRepo(session).purge(utcnow() - older_than)
            await MediaRepo(session).purge()
            await EscalationsRepo(session).purge_closed(utcnow() - self._community.help_retention)

    async def deliver_broadcasts(self, limit: int) -> int:
        """Send up to `limit` due broadcast messages (each through its person's lock, in order)."""
        async with self._sessions() as session:
            rows = await OutboxRepo(session).due(utcnow(), limit=limit, broadcasts=True)
        for person in dict.fromkeys(row.person_ref for row in rows):
            async with self._locks.hold(person):
                await self._deliver_to(person)
        return len(rows)

    async def broadcast_forever(self, per_second: float) -> None:
        """Announcements at a steady pace (platforms throttle bursts): a batch every second."""
        batch = max(1, int(per_second))
        while True:
            started = asyncio.get_running_loop().time()
            try:
                await self.deliver_broadcasts(batch)
            except Exception:
                log.exception("broadcast delivery failed")
            await asyncio.sleep(max(0.0, 1.0 - (asyncio.get_running_loop().time() - started)))

    async def run_due_jobs(self, now: dt.datetime | None = None) -> int:
        """Fire every due job once (each through the engine, so its effects are committed with it)."""
        async with self._sessions() as session:
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
