"""Quiz contests: opening one, one entry per person, the leaderboard (score, then time)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import utcnow
from storage.models_commune import Contest, ContestEntry


class ContestsRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def open(self, *, commune_id: int, title: str, questions: list[Any], starts_at: dt.datetime,
                   ends_at: dt.datetime, created_by: int) -> Contest:
        row = Contest(commune_id=commune_id, title=title, questions=questions, starts_at=starts_at,
                      ends_at=ends_at, created_by=created_by, created_at=utcnow())
        self._session.add(row)
        await self._session.flush()
        return row

    async def get(self, contest_id: int) -> Contest | None:
        return await self._session.get(Contest, contest_id)

    async def running(self, commune_id: int, now: dt.datetime) -> Contest | None:
        return (await self._session.scalars(select(Contest).where(
            Contest.commune_id == commune_id, Contest.starts_at <= now, Contest.ends_at > now)
            .order_by(Contest.id.desc()))).first()

    async def latest(self, commune_id: int) -> Contest | None:
        return (await self._session.scalars(select(Contest).where(Contest.commune_id == commune_id)
                                            .order_by(Contest.id.desc()))).first()

    async def entry(self, contest_id: int, person_id: int) -> ContestEntry | None:
        return await self._session.get(ContestEntry, (contest_id, person_id))

    async def enter(self, contest_id: int, person_id: int, now: dt.datetime) -> ContestEntry:
        row = ContestEntry(contest_id=contest_id, person_id=person_id, started_at=now, score=0, answered=0)
        self._session.add(row)
        await self._session.flush()
        return row

    async def leaderboard(self, contest_id: int, limit: int = 10) -> list[ContestEntry]:
        return list(await self._session.scalars(select(ContestEntry).where(
            ContestEntry.contest_id == contest_id, ContestEntry.finished_at.is_not(None))
            .order_by(ContestEntry.score.desc(), ContestEntry.seconds.asc(), ContestEntry.person_id).limit(limit)))
