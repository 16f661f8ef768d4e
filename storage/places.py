"""Communes and their hamlets (xóm / thôn)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Commune, Hamlet

_NOT_CODE = re.compile(r"[^a-z0-9]+")


def hamlet_code(name: str) -> str:
    """The hamlet's code for deep links: "Xóm 1" → "xom-1", "Thôn Đông" → "thon-dong" (≤ 64, [a-z0-9-])."""
    bare = unicodedata.normalize("NFD", name.casefold().replace("đ", "d"))
    bare = "".join(ch for ch in bare if not unicodedata.combining(ch))
    return _NOT_CODE.sub("-", bare).strip("-")[:64] or "xom"


class PlacesRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def ensure_commune(self, name: str, hamlet_names: Sequence[str]) -> Commune:
        """Create the commune and any configured hamlet it lacks; hamlets no longer configured go inactive."""
        commune = await self._session.scalar(select(Commune).where(Commune.name == name))
        if commune is None:
            commune = Commune(name=name)
            self._session.add(commune)
            await self._session.flush()
        existing = {h.name: h for h in await self._session.scalars(
            select(Hamlet).where(Hamlet.commune_id == commune.id))}
        for position, hamlet_name in enumerate(hamlet_names):
            hamlet = existing.pop(hamlet_name, None)
            if hamlet is None:
                self._session.add(Hamlet(commune_id=commune.id, name=hamlet_name, position=position))
            else:
                hamlet.position, hamlet.active = position, True
        for stale in existing.values():
            stale.active = False
        await self._session.flush()
        return commune

    async def hamlets(self, commune_id: int) -> list[Hamlet]:
        rows = await self._session.scalars(
            select(Hamlet).where(Hamlet.commune_id == commune_id, Hamlet.active).order_by(Hamlet.position))
        return list(rows)

    async def hamlet(self, hamlet_id: int) -> Hamlet | None:
        return await self._session.get(Hamlet, hamlet_id)

    async def by_code(self, commune_id: int, code: str) -> Hamlet | None:
        wanted = code.strip().lower()
        return next((h for h in await self.hamlets(commune_id) if hamlet_code(h.name) == wanted), None)
