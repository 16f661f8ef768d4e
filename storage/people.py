"""People who consented, and deleting everything about a person."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from storage.anonymous import DEFAULT_ZONE, AnonymousCounts
from storage.models import ConsentRecord, LessonProgress, MediaFile, OutboxMessage, Person, ProgressEvent, utcnow
from storage.models_help import Certificate, Escalation

_PEOPLE = cast(Table, Person.__table__)
_BY_REF = select(Person).where(Person.ref == bindparam("ref"))  # built once: every inbound loads its person
_SAVE_STATE = (update(_PEOPLE).where(_PEOPLE.c.id == bindparam("i"))
               .values(state=bindparam("state"), last_seen_at=bindparam("seen")))


class PeopleRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def by_ref(self, ref: str) -> Person | None:
        return (await self._session.scalars(_BY_REF, {"ref": ref})).first()

    async def save_state(self, person: Person, state: dict[str, Any], seen_at: dt.datetime) -> None:
        """Where the person is in the conversation, and when they last wrote: one Core UPDATE on the session's
        connection (every inbound writes it), and the loaded object told so without the ORM writing it again."""
        connection = await self._session.connection()
        await connection.execute(_SAVE_STATE, {"i": person.id, "state": state, "seen": seen_at})
        set_committed_value(person, "state", state)
        set_committed_value(person, "last_seen_at", seen_at)

    async def create(self, ref: str, commune_id: int) -> Person:
        person = Person(ref=ref, commune_id=commune_id, state={})
        self._session.add(person)
        await self._session.flush()
        return person

    async def mark_unreachable(self, ref: str, now: dt.datetime | None = None) -> None:
        """The platform refuses to deliver to them (they blocked the bot): drop what waits for them."""
        await self._session.execute(update(Person).where(Person.ref == ref, Person.unreachable_since.is_(None))
                                    .values(unreachable_since=now or utcnow()))
        await self._session.execute(delete(OutboxMessage).where(OutboxMessage.person_ref == ref))

    async def unreachable(self, refs: set[str]) -> set[str]:
        if not refs:
            return set()
        rows = await self._session.scalars(select(Person.ref).where(
            Person.ref.in_(refs), Person.unreachable_since.is_not(None)))
        return set(rows)

    async def erase(self, ref: str, *, keep_outbox_from: int | None = None,
                    tracks: Mapping[str, Sequence[str]] = {},
                    zone: dt.tzinfo = DEFAULT_ZONE, keep_counts: bool = True) -> None:
        """Delete every row about this person: profile, progress, events, consent, undelivered messages (and, by
        the foreign keys, meetings, contest entries, training registrations, mentor hamlets). What the commune's
        statistics counted of them is kept first as anonymous counts (storage.anonymous; `tracks` maps each
        track to its lessons, `zone` gives the local months), unless `keep_counts` is False.

        Messages queued in this same transaction (id >= keep_outbox_from) are kept so the goodbye
        still reaches them; delivered messages are deleted on delivery anyway.
        """
        person = await self.by_ref(ref)
        if person is not None:
            if keep_counts:
                await AnonymousCounts(self._session).record_erasure(person, tracks, zone)
            # Screenshots sent with help requests live in the media store: they go too.
            contexts = await self._session.scalars(select(Escalation.context).where(Escalation.person_id == person.id))
            tokens = [str(c["photo"]) for c in contexts if isinstance(c, dict) and c.get("photo")]
            if tokens:
                await self._session.execute(delete(MediaFile).where(MediaFile.token.in_(tokens)))
            await self._session.execute(delete(Escalation).where(Escalation.person_id == person.id))
            await self._session.execute(delete(ProgressEvent).where(ProgressEvent.person_id == person.id))
            await self._session.execute(delete(LessonProgress).where(LessonProgress.person_id == person.id))
            await self._session.execute(delete(Certificate).where(Certificate.person_id == person.id))
            await self._session.delete(person)
        await self._session.execute(delete(ConsentRecord).where(ConsentRecord.person_ref == ref))
        outbox = delete(OutboxMessage).where(OutboxMessage.person_ref == ref)
        if keep_outbox_from is not None:
            outbox = outbox.where(OutboxMessage.id < keep_outbox_from)
        await self._session.execute(outbox)
        await self._session.flush()
