"""Lesson progress: where each person is in each lesson, what they finished, and the event log."""

from __future__ import annotations

import datetime as dt
from typing import cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import LessonProgress, ProgressEvent, utcnow

_PROGRESS = cast(Table, LessonProgress.__table__)
_MOVE = (update(_PROGRESS).where(_PROGRESS.c.person_id == bindparam("p"), _PROGRESS.c.lesson_id == bindparam("l"))
         .values(step_id=bindparam("s")))
_EVENT = insert(cast(Table, ProgressEvent.__table__))
# Built once (a statement built per call is coerced and keyed for the compiled cache every time).
_GET = select(LessonProgress).where(LessonProgress.person_id == bindparam("p"),
                                    LessonProgress.lesson_id == bindparam("l"))
_COMPLETED = select(LessonProgress.lesson_id).where(LessonProgress.person_id == bindparam("p"),
                                                    LessonProgress.completed_at.is_not(None))


class ProgressRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, person_id: int, lesson_id: str) -> LessonProgress | None:
        return (await self._session.scalars(_GET, {"p": person_id, "l": lesson_id})).first()

    async def start(self, person_id: int, lesson_id: str, step_id: str) -> LessonProgress:
        row = await self.get(person_id, lesson_id)
        if row is None:
            row = LessonProgress(person_id=person_id, lesson_id=lesson_id, step_id=step_id, started_at=utcnow())
            self._session.add(row)
            await self.event(person_id, "lesson_started", lesson_id=lesson_id, step_id=step_id)
        else:
            row.step_id = step_id
        await self._session.flush()
        return row

    async def at_step(self, person_id: int, lesson_id: str, step_id: str) -> None:
        """The person reached this step: their lesson row says so, and the event log has it.

        The busiest write of all (every step of every lesson), so in two Core statements on the session's
        connection when the lesson is under way and its row is not loaded in this session; through the ORM otherwise
        (the first step creates the row and logs lesson_started)."""
        if self._loaded(person_id, lesson_id) is None:
            connection = await self._session.connection()
            moved = await connection.execute(_MOVE, {"p": person_id, "l": lesson_id, "s": step_id})
            if moved.rowcount == 1:
                await connection.execute(_EVENT, {"person_id": person_id, "kind": "step_reached",
                                                  "lesson_id": lesson_id, "step_id": step_id, "value": None,
                                                  "at": utcnow()})
                return
        row = await self.start(person_id, lesson_id, step_id)
        row.step_id = step_id
        await self.event(person_id, "step_reached", lesson_id=lesson_id, step_id=step_id)

    def _loaded(self, person_id: int, lesson_id: str) -> LessonProgress | None:
        """This lesson row if the session holds it (then the ORM must write it, or it would hold a stale step)."""
        for held in self._session.identity_map.values():
            if isinstance(held, LessonProgress) and held.person_id == person_id and held.lesson_id == lesson_id:
                return held
        return None

    async def quiz_result(self, person_id: int, lesson_id: str, score: int, passed: bool) -> bool:
        """Record an attempt; returns True when this attempt completed the lesson for the first time."""
        row = await self.start(person_id, lesson_id, "quiz")
        row.attempts += 1
        row.best_score = max(row.best_score, score)
        await self.event(person_id, "quiz_finished", lesson_id=lesson_id, value=score)
        first = passed and row.completed_at is None
        if first:
            row.completed_at = utcnow()
            await self.event(person_id, "lesson_completed", lesson_id=lesson_id, value=score)
        return first

    async def assisted(self, person_id: int, lesson_id: str, step_ids: list[str], mentor_id: int) -> None:
        """A mentor went through the lesson with the person in person: every step done "with help"."""
        row = await self.start(person_id, lesson_id, step_ids[-1] if step_ids else "quiz")
        for step_id in step_ids:
            await self.event(person_id, "step_assisted", lesson_id=lesson_id, step_id=step_id, value=mentor_id)
        if row.completed_at is None:
            row.completed_at = utcnow()
            row.assisted = True
            await self.event(person_id, "lesson_assisted", lesson_id=lesson_id, value=mentor_id)

    async def completed_lessons(self, person_id: int) -> set[str]:
        return set(await self._session.scalars(_COMPLETED, {"p": person_id}))

    async def event(self, person_id: int, kind: str, *, lesson_id: str | None = None,
                    step_id: str | None = None, value: int | None = None,
                    at: dt.datetime | None = None) -> None:
        self._session.add(ProgressEvent(person_id=person_id, kind=kind, lesson_id=lesson_id,
                                        step_id=step_id, value=value, at=at or utcnow()))
