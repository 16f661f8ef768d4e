"""Who mentors where: the hamlets each mentor serves, who is available, and the officials."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Person
from storage.models_help import MentorHamlet


class MentorsRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def set_hamlets(self, person_id: int, hamlet_ids: Iterable[int]) -> None:
        await self._session.execute(delete(MentorHamlet).where(MentorHamlet.person_id == person_id))
        for hamlet_id in dict.fromkeys(hamlet_ids):
            self._session.add(MentorHamlet(person_id=person_id, hamlet_id=hamlet_id))
        await self._session.flush()

    async def hamlets_of(self, person_id: int) -> list[int]:
        return list(await self._session.scalars(select(MentorHamlet.hamlet_id).where(
            MentorHamlet.person_id == person_id)))

    async def available(self, commune_id: int, hamlet_id: int | None = None) -> list[Person]:
        """Mentors who are not paused and can be messaged; only those serving the hamlet, if one is given."""
        query = select(Person).where(Person.commune_id == commune_id, Person.is_mentor,
                                     Person.mentor_paused.is_(False), Person.unreachable_since.is_(None))
        if hamlet_id is not None:
            query = query.join(MentorHamlet, MentorHamlet.person_id == Person.id).where(
                MentorHamlet.hamlet_id == hamlet_id)
        return list(await self._session.scalars(query.order_by(Person.id)))

    async def officials(self, commune_id: int) -> list[Person]:
        return list(await self._session.scalars(select(Person).where(
            Person.commune_id == commune_id, Person.is_official, Person.unreachable_since.is_(None))
            .order_by(Person.id)))

    async def by_id(self, person_id: int) -> Person | None:
        return await self._session.get(Person, person_id)
