"""Training days and who registered for them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Person, utcnow
from storage.models_commune import TrainingDay, TrainingRegistration


class TrainingsRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def create(self, *, commune_id: int, hamlet_id: int | None, title: str, place: str, at: dt.datetime,
                     created_by: int) -> TrainingDay:
        row = TrainingDay(commune_id=commune_id, hamlet_id=hamlet_id, title=title, place=place, at=at,
                          created_by=created_by, created_at=utcnow())
        self._session.add(row)
        await self._session.flush()
        return row

    async def get(self, training_id: int) -> TrainingDay | None:
        return await self._session.get(TrainingDay, training_id)

    async def upcoming(self, commune_id: int, hamlet_id: int | None, now: dt.datetime,
                       everyone: bool = False) -> list[TrainingDay]:
        query = select(TrainingDay).where(TrainingDay.commune_id == commune_id, TrainingDay.at > now)
        if not everyone:
            query = query.where(or_(TrainingDay.hamlet_id.is_(None), TrainingDay.hamlet_id == hamlet_id))
        return list(await self._session.scalars(query.order_by(TrainingDay.at).limit(10)))

    async def register(self, training_id: int, person_id: int) -> bool:
        """True when newly registered (a second press changes nothing)."""
        insert = pg_insert if self._session.bind.dialect.name == "postgresql" else sqlite_insert
        result = await self._session.execute(insert(TrainingRegistration).values(
            training_id=training_id, person_id=person_id, at=utcnow()).on_conflict_do_nothing()
            .returning(TrainingRegistration.person_id))
        return result.first() is not None

    async def registered(self, training_id: int) -> list[Person]:
        return list(await self._session.scalars(select(Person).join(
            TrainingRegistration, TrainingRegistration.person_id == Person.id).where(
            TrainingRegistration.training_id == training_id).order_by(Person.id)))

    async def counts(self, training_ids: list[int]) -> dict[int, int]:
        if not training_ids:
            return {}
        rows = await self._session.execute(select(TrainingRegistration.training_id, func.count()).where(
            TrainingRegistration.training_id.in_(training_ids)).group_by(TrainingRegistration.training_id))
        return {training_id: int(n) for training_id, n in rows.all()}
