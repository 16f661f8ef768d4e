"""1-1 meetings between a mentor and a villager."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import utcnow
from storage.models_help import Meeting


class MeetingsRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def propose(self, escalation_id: int, mentor_id: int, person_id: int, at: dt.datetime,
                      place: str) -> Meeting:
        row = Meeting(escalation_id=escalation_id, mentor_id=mentor_id, person_id=person_id, at=at, place=place,
                      status="proposed", created_at=utcnow())
        self._session.add(row)
        await self._session.flush()
        return row

    async def get(self, meeting_id: int) -> Meeting | None:
        return await self._session.get(Meeting, meeting_id)
