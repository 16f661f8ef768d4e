"""Announcements: who they reach, queueing their messages in the outbox, and how far delivery has got."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.messaging import OutboxRepo
from storage.models import Person, utcnow
from storage.models_commune import Broadcast


def _audience(commune_id: int, audience: str) -> Select[tuple[str]]:
    query = select(Person.ref).where(Person.commune_id == commune_id, Person.announcements_off.is_(False),
                                     Person.unreachable_since.is_(None))
    kind, _, value = audience.partition(":")
    if kind == "hamlet" and value.isdigit():
        query = query.where(Person.hamlet_id == int(value))
    elif kind == "age":
        query = query.where(Person.age_group == value)
    return query


class BroadcastsRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def draft(self, commune_id: int, author_id: int, text: str, audience: str,
                    photo: str | None = None) -> Broadcast:
        row = Broadcast(commune_id=commune_id, author_id=author_id, text=text, audience=audience, photo=photo,
                        status="draft", created_at=utcnow())
        self._session.add(row)
        await self._session.flush()
        return row

    async def get(self, broadcast_id: int) -> Broadcast | None:
        return await self._session.get(Broadcast, broadcast_id)

    async def count(self, commune_id: int, audience: str) -> int:
        query = _audience(commune_id, audience)
        return int(await self._session.scalar(select(func.count()).select_from(query.subquery())) or 0)

    async def opted_out(self, commune_id: int) -> int:
        return int(await self._session.scalar(select(func.count()).select_from(Person).where(
            Person.commune_id == commune_id, Person.announcements_off.is_(True))) or 0)

    async def send(self, broadcast: Broadcast, payload_for: dict[str, str] | str, now: dt.datetime) -> int:
        """Queue one message per recipient, in this transaction; returns how many."""
        refs = list(await self._session.scalars(_audience(broadcast.commune_id, broadcast.audience)))
        messages = [(ref, payload_for if isinstance(payload_for, str) else payload_for[ref]) for ref in refs]
        broadcast.total = await OutboxRepo(self._session).enqueue_many(broadcast.id, messages)
        broadcast.status, broadcast.confirmed_at = "sending", now
        return broadcast.total

    async def remaining(self, broadcast_id: int) -> int:
        return await OutboxRepo(self._session).remaining(broadcast_id)
