"""Help requests: open, claimed (first claim wins atomically), resolved, rated, reopened."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import utcnow
from storage.models_help import Escalation


class EscalationsRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def open(self, **fields: Any) -> Escalation:
        row = Escalation(status="open", created_at=utcnow(), **fields)
        self._session.add(row)
        await self._session.flush()
        return row

    async def get(self, escalation_id: int) -> Escalation | None:
        return await self._session.get(Escalation, escalation_id)

    async def active_for(self, person_id: int) -> Escalation | None:
        """The villager's request that is still open or being helped."""
        return (await self._session.scalars(select(Escalation).where(
            Escalation.person_id == person_id, Escalation.status.in_(("open", "claimed")))
            .order_by(Escalation.id.desc()))).first()

    async def claim(self, escalation_id: int, mentor_id: int, now: dt.datetime | None = None) -> bool:
        """True for the one mentor whose claim took it; everyone later gets False."""
        result = await self._session.execute(
            update(Escalation).where(Escalation.id == escalation_id, Escalation.status == "open")
            .values(status="claimed", claimed_by=mentor_id, claimed_at=now or utcnow()))
        await self._session.flush()
        claimed = int(getattr(result, "rowcount", 0)) == 1
        if claimed:
            row = await self.get(escalation_id)
            if row is not None:
                await self._session.refresh(row)
        return claimed

    async def raise_level(self, escalation_id: int, level: int) -> Escalation | None:
        """Move an unclaimed request up (to all mentors, then officials); None if someone has it already."""
        result = await self._session.execute(
            update(Escalation).where(Escalation.id == escalation_id, Escalation.status == "open",
                                     Escalation.level < level).values(level=level))
        if int(getattr(result, "rowcount", 0)) != 1:
            return None
        row = await self.get(escalation_id)
        if row is not None:
            await self._session.refresh(row)
        return row

    async def latest_held_by(self, mentor_id: int) -> Escalation | None:
        return (await self._session.scalars(select(Escalation).where(
            Escalation.claimed_by == mentor_id, Escalation.status == "claimed")
            .order_by(Escalation.claimed_at.desc(), Escalation.id.desc()))).first()

    async def cases_of(self, mentor_id: int, commune_id: int, hamlet_ids: list[int]) -> list[Escalation]:
        """A mentor's own claimed cases, then open ones they may take (their hamlets or raised), oldest first."""
        own = select(Escalation).where(Escalation.claimed_by == mentor_id, Escalation.status == "claimed")
        waiting = select(Escalation).where(Escalation.commune_id == commune_id, Escalation.status == "open")
        rows = list(await self._session.scalars(own.order_by(Escalation.created_at)))
        for row in await self._session.scalars(waiting.order_by(Escalation.created_at)):
            if row.level >= 1 or row.hamlet_id in hamlet_ids:
                rows.append(row)
        return rows

    async def purge_closed(self, before: dt.datetime) -> int:
        """Retention: what a villager wrote in a request closed before `before` is blanked (times, ratings and
        the hamlet stay for statistics)."""
        result = await self._session.execute(
            update(Escalation).where(Escalation.status == "resolved", Escalation.resolved_at < before,
                                     Escalation.question != "").values(question="", context={}))
        return int(getattr(result, "rowcount", 0))
