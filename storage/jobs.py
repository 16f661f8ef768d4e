"""Durable timers: rows with a due time, taken once each."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import utcnow
from storage.models_help import Job


class JobsRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def schedule(self, kind: str, run_at: dt.datetime, payload: dict[str, Any]) -> Job:
        job = Job(kind=kind, run_at=run_at, payload=payload, created_at=utcnow())
        self._session.add(job)
        await self._session.flush()
        return job

    async def due(self, now: dt.datetime | None = None, limit: int = 100) -> list[Job]:
        return list(await self._session.scalars(select(Job).where(
            Job.done_at.is_(None), Job.run_at <= (now or utcnow())).order_by(Job.run_at, Job.id).limit(limit)))

    async def finish(self, job_id: int, now: dt.datetime | None = None) -> bool:
        """Mark done; False if it already was (another worker or an earlier run took it)."""
        result = await self._session.execute(update(Job).where(Job.id == job_id, Job.done_at.is_(None))
                                             .values(done_at=now or utcnow()))
        return int(getattr(result, "rowcount", 0)) == 1

    async def get(self, job_id: int) -> Job | None:
        return await self._session.get(Job, job_id)

    async def pending(self, kind: str) -> Job | None:
        return (await self._session.scalars(select(Job).where(Job.kind == kind, Job.done_at.is_(None))
                                            .order_by(Job.run_at))).first()
