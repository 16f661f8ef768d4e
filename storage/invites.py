"""Single-use, expiring invite codes (only their hash is stored)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import utcnow
from storage.models_help import Invite

_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: easy to read aloud and type


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().upper().replace("-", "").encode()).hexdigest()


def new_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))  # ~50 bits; single use, expiring
    return f"{raw[:5]}-{raw[5:]}"


class InvitesRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def create(self, role: str, commune_id: int, ttl: dt.timedelta) -> str:
        code = new_code()
        now = utcnow()
        self._session.add(Invite(code_hash=_hash(code), role=role, commune_id=commune_id, created_at=now,
                                 expires_at=now + ttl))
        await self._session.flush()
        return code

    async def redeem(self, code: str, role: str, person_id: int, now: dt.datetime | None = None) -> Invite | None:
        """Use the code once: None when it is wrong, for another role, expired or already used."""
        at = now or utcnow()
        invite = (await self._session.scalars(select(Invite).where(Invite.code_hash == _hash(code)))).first()
        if invite is None or invite.role != role or invite.used_at is not None or invite.expires_at <= at:
            return None
        used = await self._session.execute(update(Invite).where(Invite.id == invite.id, Invite.used_at.is_(None))
                                           .values(used_at=at, used_by=person_id))
        return invite if int(getattr(used, "rowcount", 0)) == 1 else None
