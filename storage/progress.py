"""Lesson progress: where each person is in each lesson, what they finished, and the event log."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import LessonProgress, ProgressEvent, utcnow


class ProgressRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, person_id: int, lesson_id: str) -> LessonProgress | None:
        return (await self._session.scalars(select(LessonProgress).where(
            LessonProgress.person_id == person_id, LessonProgress.lesson_id == lesson_id))).first()

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
        row = await self.start(person_id, lesson_id, step_id)
        row.step_id = step_id
        await self.event(person_id, "step_reached", lesson_id=lesson_id, step_id=step_id)

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
        rows = await self._session.scalars(select(LessonProgress.lesson_id).where(
            LessonProgress.person_id == person_id, LessonProgress.completed_at.is_not(None)))
        return set(rows)

    async def event(self, person_id: int, kind: str, *, lesson_id: str | None = None,
                    step_id: str | None = None, value: int | None = None,
                    at: dt.datetime | None = None) -> None:
        self._session.add(ProgressEvent(person_id=person_id, kind=kind, lesson_id=lesson_id,
                                        step_id=step_id, value=value, at=at or utcnow()))
