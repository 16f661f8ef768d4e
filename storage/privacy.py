"""Consent records (append-only) and the log of data-rights requests with their due dates."""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ConsentRecord, DataRequest, utcnow

# Decree 356/2025 Art 5: deletion within 20 days, a copy within 10, withdrawal within 15.
DUE_DAYS = {"delete": 20, "copy": 10, "withdraw": 15}


def ref_hash(ref: str) -> str:
    return hashlib.sha256(ref.encode()).hexdigest()


class ConsentRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, *, ref: str, channel: str, purpose: str, text_version: str, text: str,
                     granted: bool) -> ConsentRecord:
        row = ConsentRecord(person_ref=ref, channel=channel, purpose=purpose, text_version=text_version,
                            text_hash=hashlib.sha256(text.encode()).hexdigest(), granted=granted,
                            at=utcnow())
        self._session.add(row)
        await self._session.flush()
        return row

    async def latest(self, ref: str, purpose: str) -> ConsentRecord | None:
        return (await self._session.scalars(
            select(ConsentRecord)
            .where(ConsentRecord.person_ref == ref, ConsentRecord.purpose == purpose)
            .order_by(ConsentRecord.id.desc())
            .limit(1))).first()

    async def history(self, ref: str) -> list[ConsentRecord]:
        rows = await self._session.scalars(
            select(ConsentRecord).where(ConsentRecord.person_ref == ref).order_by(ConsentRecord.id))
        return list(rows)


class DataRequestsRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def log(self, ref: str, kind: str, *, done: bool, now: dt.datetime | None = None) -> DataRequest:
        at = now or utcnow()
        row = DataRequest(ref_hash=ref_hash(ref), kind=kind, requested_at=at,
                          due_at=at + dt.timedelta(days=DUE_DAYS[kind]), done_at=at if done else None)
        self._session.add(row)
        await self._session.flush()
        return row
