"""The engine: one inbound → dedupe, lock, load, route, run, commit state + outbox together, deliver.

A crash between commit and delivery loses nothing: undelivered outbox rows are sent by the periodic sweep
(`deliver_pending`), which starts with the process. A busy database is retried for a while (`bot.retrying`);
after that `Busy` tells the channel to have the platform send the update again, so nothing it confirmed is lost.

Each person has two lanes: one for handling (here: inbounds are committed one at a time, in order) and one for
sending (`bot.delivery`: their outbox rows go out one at a time, in order). A slow platform holds up only the
sending lane.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import after_commit
from bot.cancel import unless_cancelled
from bot.channels.base import Busy, Channel
from bot.choices import as_choice, remember_choices
from bot.context import Community, Context, Repos
from bot.delivery import Delivery
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
from bot.ratelimit import FloodGuard, Pace
from bot.retrying import retrying
from bot.roles import Role, has_role
from bot.routing import Router
from lessons.catalog import Catalog
from storage.db import read_session, write_transaction
from storage.escalations import EscalationsRepo
from storage.group_commit import GroupCommit
from storage.jobs import JobsRepo
from storage.locking import lock_person
from storage.media import MediaRepo
from storage.messaging import InboxRepo, OutboxRepo
from storage.models import Person, utcnow
from storage.people import PeopleRepo

log = logging.getLogger(__name__)

SLOW_DOWN = "Tin đến nhanh quá ạ. Mời chậm lại một chút, đợi vài giây rồi nhắn tiếp nhé."
SORRY = "Xin lỗi, Trợ lý số vừa gặp trục trặc khi xử lý tin này. Mời thử lại sau ít phút ạ."
INBOX_KEEP = dt.timedelta(days=7)


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
        bind = sessions.kw.get("bind")
        shared_database = getattr(getattr(bind, "dialect", None), "name", "") == "postgresql"
        self._delivery = Delivery(sessions, self.channels, shared_database=shared_database)  # the sending lanes
        # One writer at a time on SQLite: inbounds committed at the same moment share one transaction. PostgreSQL
        # commits them side by side on separate connections instead.
        self._group = None if shared_database else GroupCommit(sessions)
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
        await self._refresh_commands(outcome.refresh)
        if wait_delivery:
            await self._deliver_then_later(inbound, outcome)
        else:
            self._delivery.track(self._deliver_then_later(inbound, outcome))
        return True

    async def _deliver_then_later(self, inbound: Inbound, outcome: Outcome) -> None:
        await self._delivery.each([inbound.person, *outcome.others])
        if not outcome.later:
            return

        def context(repos: Repos, person: Person | None) -> Context:
            return Context(inbound=inbound, person=person, state=dict(person.state) if person is not None else {},
                           repos=repos, catalog=self._catalog, community=self._community, now=utcnow())

        effects = await after_commit.run(self._sessions, inbound, outcome.later, context, _apology())

        async def queue(session: AsyncSession) -> set[str]:
            return await after_commit.queue(session, inbound, effects)

        async def commit() -> set[str]:
            if self._group is not None:
                return await self._group.run(queue)
            async with write_transaction(self._sessions) as session:
                return await queue(session)

        await self._delivery.each(sorted(await retrying(commit)))

    async def _slow_down(self, person: str) -> None:
        """Someone sends faster than a person types: one polite word, then their flood is dropped."""
        log.warning("flood from one person: inbounds dropped for a few seconds")

        async def warn() -> None:
            async with write_transaction(self._sessions) as session:
                warning = Outgoing(person=person, reply=Reply(text=SLOW_DOWN))
                await OutboxRepo(session).add(person, warning.model_dump_json())

        try:
            await retrying(warn)
        except Busy:
            return  # the flood is dropped all the same; the warning is a courtesy
        await self._delivery.each([person])

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

    # ---- delivery (bot/delivery.py) -------------------------------------------------------------

    async def deliver_pending(self) -> int:
        """Deliver every due outbox row but announcements (on start-up and by the sweep); people served."""
        return await self._delivery.pending()

    async def deliver_broadcasts(self, limit: int, pace: Pace | None = None) -> int:
        """Send up to `limit` due announcements, each inside `pace()`; how many."""
        return await self._delivery.broadcasts(limit, pace)

    async def broadcast_forever(self, per_second: float) -> None:
        await self._delivery.broadcast_forever(per_second)

    async def drain(self) -> None:
        """Wait for background deliveries (at shutdown, and in tests)."""
        await self._delivery.finish_tasks()
        if self._group is not None:
            await self._group.idle()
        await self._delivery.forgotten()

    async def _process(self, inbound: Inbound) -> Outcome | None:
        try:
            return await retrying(lambda: self._commit(inbound))
        except Busy:
            raise
        except Exception:
            log.exception("handler failed on a %s inbound", inbound.kind.value)
        # The handler failed and its transaction rolled back: keep the key (so a redelivery does not
        # fail again the same way) and apologise; the person's saved progress is untouched.
        return await retrying(lambda: self._apologise(inbound))

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
            outgoing = Outgoing(person=inbound.person, reply=_apology())
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
        inbound = as_choice(inbound, state)
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
                remember_choices(ctx.state, reply)
            elif isinstance(effect, NotifyPerson):
                target, reply = effect.person, effect.reply
                others.add(target)
                if reply.choices and target != inbound.person:
                    # Their newest message's choices are what a typed number means (Zalo has no buttons).
                    recipient = await repos.people.by_ref(target)
                    if recipient is not None:
                        recipient.state = remember_choices(dict(recipient.state), reply)
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

    async def forget_old_keys(self, older_than: dt.timedelta = INBOX_KEEP) -> None:
        """Platforms redeliver within minutes; keys older than this only take space. Expired media go too,
        what people wrote in help requests closed longer ago than the retention period, and privacy-request log
        entries and refusals past theirs."""
        async with write_transaction(self._sessions) as session:
            await InboxRepo(session).purge(utcnow() - older_than)
            await MediaRepo(session).purge()
            await EscalationsRepo(session).purge_closed(utcnow() - self._community.help_retention)
            await Repos.bound(session).data_requests.purge(utcnow(), self._community.privacy_retention)

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


def _apology() -> Reply:
    return Reply(text=SORRY, choices=[[Choice(label="🏠 Về menu", payload="menu")]])
