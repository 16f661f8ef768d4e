"""Work that handlers hand over with `ctx.after_commit`: run once the inbound has committed, outside its write
transaction, on a read session; what it says is queued in a short write transaction of its own.

Every handler runs inside its inbound's write transaction (on SQLite inside the group commit), so a handler that
reads for a second (the monthly report of a large commune) made every other writer of the process wait that second.
The engine runs such work after the inbound's own replies are sent (an "I am on it" message, say), then queues
its replies and notices and delivers them. It is not durable: if the process stops in between, the person asks
again. The work gets a Context whose repositories read; it must not write through them (nothing is committed).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.choices import remember_choices
from bot.context import Context, Repos
from bot.messages import Effect, Inbound, InboundKind, NotifyPerson, Outgoing, Reply, SendReply
from storage.db import read_session
from storage.messaging import OutboxRepo
from storage.models import Person
from storage.people import PeopleRepo

log = logging.getLogger(__name__)

Work = Callable[[Context], Awaitable[None]]
MakeContext = Callable[[Repos, Person | None], Context]


async def run(sessions: async_sessionmaker[AsyncSession], inbound: Inbound, works: Sequence[Work],
              make_context: MakeContext, apology: Reply) -> list[Effect]:
    """Each work on a read-only Context of its own; the effects they recorded, in order (for a work that failed,
    an apology to the person instead of what it had recorded)."""
    effects: list[Effect] = []
    for work in works:
        async with read_session(sessions) as session:
            repos = Repos.bound(session)
            ctx = make_context(repos, await repos.people.by_ref(inbound.person))
            try:
                await work(ctx)
            except Exception:
                log.exception("work after the commit of a %s inbound failed", inbound.kind.value)
                ctx.effects = [] if inbound.kind is InboundKind.JOB else [SendReply(reply=apology)]
        effects += ctx.effects
    return effects


async def queue(session: AsyncSession, inbound: Inbound, effects: Sequence[Effect]) -> set[str]:
    """In a write transaction: the replies and notices among `effects` into the outbox (the choices of each
    remembered in its recipient's state, as for any reply); the people who now have something to receive."""
    people = PeopleRepo(session)
    messages: list[tuple[str, Reply]] = []
    for effect in effects:
        if isinstance(effect, SendReply) and inbound.kind is not InboundKind.JOB:
            messages.append((inbound.person, effect.reply))
        elif isinstance(effect, NotifyPerson):
            messages.append((effect.person, effect.reply))
        else:
            log.warning("work after the commit can only reply and notify: a %s was dropped", type(effect).__name__)
    unreachable = await people.unreachable({person for person, _ in messages} - {inbound.person})
    outbox = OutboxRepo(session)
    targets: set[str] = set()
    for person, reply in messages:
        if person in unreachable:
            continue  # they blocked the bot: not messaged again until they write
        if reply.choices:
            recipient = await people.by_ref(person)
            if recipient is not None:
                recipient.state = remember_choices(dict(recipient.state), reply)
        await outbox.add(person, Outgoing(person=person, reply=reply).model_dump_json())
        targets.add(person)
    return targets
