"""Generated images kept briefly under unguessable tokens, for platforms that fetch images by URL."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import MediaFile, utcnow


class MediaRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def put(self, data: bytes, content_type: str, ttl: dt.timedelta) -> str:
        token = secrets.token_urlsafe(24)
        now = utcnow()
        self._session.add(MediaFile(token=token, content_type=content_type, data=data, created_at=now,
                                    expires_at=now + ttl))
        await self._session.flush()
        return token

    async def get(self, token: str, now: dt.datetime | None = None) -> MediaFile | None:
        return (await self._session.scalars(select(MediaFile).where(
            MediaFile.token == token, MediaFile.expires_at > (now or utcnow())))).first()

    async def delete(self, token: str) -> None:
        await self._session.execute(delete(MediaFile).where(MediaFile.token == token))

    async def purge(self, now: dt.datetime | None = None) -> None:
        await self._session.execute(delete(MediaFile).where(MediaFile.expires_at <= (now or utcnow())))
