"""Certificates people earn by finishing a track, and checking one by its code."""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import utcnow
from storage.models_help import Certificate


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


class CertificatesRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def issue(self, *, person_id: int, code: str, name: str, track_id: str, track_title: str,
                    commune_name: str, issued_on: dt.date) -> Certificate:
        row = Certificate(person_id=person_id, code_hash=code_hash(code), name=name, track_id=track_id,
                          track_title=track_title, commune_name=commune_name, issued_on=issued_on,
                          created_at=utcnow())
        self._session.add(row)
        await self._session.flush()
        return row

    async def of(self, person_id: int, track_id: str) -> Certificate | None:
        return (await self._session.scalars(select(Certificate).where(
            Certificate.person_id == person_id, Certificate.track_id == track_id))).first()

    async def verify(self, code: str) -> Certificate | None:
        return (await self._session.scalars(select(Certificate).where(
            Certificate.code_hash == code_hash(code)))).first()

    async def revoke_all(self, person_id: int) -> None:
        await self._session.execute(delete(Certificate).where(Certificate.person_id == person_id))
