"""Anonymous counts: what the commune's statistics keep of a person who deleted their data (/xoadulieu).

Just before a learner's rows are deleted, `AnonymousCounts.record_erasure` adds 1 to the counts their figures fall
in; `storage.stats` adds these counts to what it counts from the live tables, so deleting people does not change
the commune's totals. Each figure keeps only the dimensions its statistics need (hamlet for the per-hamlet tables,
age group only for "registered", lesson ids only without hamlet), by local calendar month:

| figure         | dimensions           | counted at                         | feeds                                   |
|----------------|----------------------|------------------------------------|-----------------------------------------|
| person         | hamlet, age group    | registration (`created_at`)        | registered, new, adults, elders, by age |
| active         | hamlet               | every month the person was active  | active people in a month                |
| lessons        | hamlet               | each lesson completion             | lessons completed                       |
| assisted       | hamlet               | each completion with a mentor      | assisted completions                    |
| finisher       | hamlet               | every month with a completion      | people completing a lesson that month   |
| first_finish   | hamlet               | the first completion               | people who completed a lesson (to date) |
| track          | hamlet, track id     | the track's last lesson completed  | track finishers                         |
| milestone      | hamlet, milestone id | the first "Rồi" (adults only)      | milestones                              |
| lesson_started | lesson id            | a lesson started                   | the lesson table: started               |
| lesson_done    | lesson id            | a lesson completed                 | the lesson table: finished              |

The definitions are those of `storage.stats` (officials are not learners and are not counted). Not kept: the
last time the person was seen (so they leave "active in the last 7/30 days"), where they were stuck, their help
requests, contest entries and certificates.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AnonymousCount, LessonProgress, Person, ProgressEvent

FIGURES = ("person", "active", "lessons", "assisted", "finisher", "first_finish", "track", "milestone",
           "lesson_started", "lesson_done")
ADULT_GROUPS = ("16-29", "30-59", "60+")  # as in storage.stats
DEFAULT_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
Period = tuple[dt.datetime | None, dt.datetime | None]  # [start, end) in UTC; None: open
EVER: Sequence[Period] = ((None, None),)
_COLUMNS = {"hamlet": AnonymousCount.hamlet_id, "age": AnonymousCount.age_group, "key": AnonymousCount.key}
Bucket = tuple[str, int, str, str, dt.datetime]  # (figure, hamlet id or 0, age group or "", key or "", month)


def month_start(moment: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """The UTC instant at which the local calendar month of `moment` starts (as storage.stats_sql.month_bounds)."""
    local = moment.astimezone(zone)
    return dt.datetime(local.year, local.month, 1, tzinfo=zone).astimezone(dt.UTC)


def _during(period: Period) -> ColumnElement[bool]:
    start, end = period
    parts: list[ColumnElement[bool]] = [AnonymousCount.month.is_not(None)]
    if start is not None:
        parts.append(AnonymousCount.month >= start)
    if end is not None:
        parts.append(AnonymousCount.month < end)
    return and_(*parts)


def _value(column: str, raw: Any) -> Any:
    if column == "hamlet":
        return int(raw) or None
    return str(raw) or None


class AnonymousCounts:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # -- writing, at deletion time --

    async def record_erasure(self, person: Person, tracks: Mapping[str, Sequence[str]] = {},
                             zone: dt.tzinfo = DEFAULT_ZONE) -> None:
        """Add the person's part of every figure (before their rows are deleted). Officials are not counted."""
        if person.is_official:
            return
        buckets = await self._buckets(person, tracks, zone)
        if not buckets:
            return
        rows = [{"commune_id": person.commune_id, "figure": figure, "hamlet_id": hamlet, "age_group": age,
                 "key": key, "month": month, "count": n}
                for (figure, hamlet, age, key, month), n in sorted(buckets.items())]
        insert = pg_insert if self._session.get_bind().dialect.name == "postgresql" else sqlite_insert
        statement = insert(AnonymousCount).values(rows)
        await self._session.execute(statement.on_conflict_do_update(
            index_elements=["commune_id", "figure", "hamlet_id", "age_group", "key", "month"],
            set_={"count": AnonymousCount.count + statement.excluded.count}))

    async def _buckets(self, person: Person, tracks: Mapping[str, Sequence[str]], zone: dt.tzinfo) -> Counter[Bucket]:
        hamlet = person.hamlet_id or 0

        def month(moment: dt.datetime) -> dt.datetime:
            return month_start(moment, zone)

        found: Counter[Bucket] = Counter()
        found["person", hamlet, person.age_group or "", "", month(person.created_at)] += 1
        events = (await self._session.execute(
            select(ProgressEvent.kind, ProgressEvent.step_id, ProgressEvent.value, ProgressEvent.at)
            .where(ProgressEvent.person_id == person.id))).all()
        for active in {month(person.created_at), month(person.last_seen_at), *(month(e.at) for e in events)}:
            found["active", hamlet, "", "", active] += 1
        lessons = (await self._session.execute(
            select(LessonProgress.lesson_id, LessonProgress.started_at, LessonProgress.completed_at,
                   LessonProgress.assisted).where(LessonProgress.person_id == person.id))).all()
        done = {str(lesson): at for lesson, _, at, _ in lessons if at is not None}
        for lesson, started, completed, assisted in lessons:
            found["lesson_started", 0, "", str(lesson), month(started)] += 1
            if completed is not None:
                found["lesson_done", 0, "", str(lesson), month(completed)] += 1
                found["lessons", hamlet, "", "", month(completed)] += 1
                if assisted:
                    found["assisted", hamlet, "", "", month(completed)] += 1
        for finished in {month(at) for at in done.values()}:
            found["finisher", hamlet, "", "", finished] += 1
        if done:
            found["first_finish", hamlet, "", "", month(min(done.values()))] += 1
        for track, track_lessons in tracks.items():
            wanted = set(track_lessons)
            if wanted and wanted <= set(done):
                found["track", hamlet, "", track, month(max(done[lesson] for lesson in wanted))] += 1
        if person.age_group in ADULT_GROUPS:
            firsts: dict[str, dt.datetime] = {}
            for kind, step, value, at in events:
                if kind == "milestone" and value == 1 and step and (step not in firsts or at < firsts[step]):
                    firsts[step] = at
            for milestone, at in firsts.items():
                found["milestone", hamlet, "", milestone, month(at)] += 1
        return found

    # -- reading, for storage.stats --

    async def sums(self, commune_id: int, figure: str, by: Sequence[str] = ("hamlet",),
                   periods: Sequence[Period] = EVER, *, hamlet_id: int | None = None,
                   ages: Iterable[str] | None = None) -> dict[Any, list[int]]:
        """The counts of `figure` in each period, grouped by `by` ("hamlet", "age", "key"): {group: [n per period]}.
        A group is the value itself when `by` names one dimension, else a tuple; no hamlet or age is None.
        `hamlet_id` keeps one hamlet's counts; `ages` only those age groups."""
        where = [AnonymousCount.commune_id == commune_id, AnonymousCount.figure == figure]
        if hamlet_id is not None:
            where.append(AnonymousCount.hamlet_id == hamlet_id)
        if ages is not None:
            where.append(AnonymousCount.age_group.in_(list(ages)))
        groups = [_COLUMNS[column] for column in by]
        rows = (await self._session.execute(
            select(*groups, *(func.sum(case((_during(p), AnonymousCount.count), else_=0)) for p in periods))
            .where(*where).group_by(*groups))).all()
        found: dict[Any, list[int]] = {}
        for row in rows:
            values = tuple(_value(column, raw) for column, raw in zip(by, row[:len(by)], strict=True))
            counts = [int(n or 0) for n in row[len(by):]]
            if any(counts):
                found[values[0] if len(by) == 1 else values] = counts
        return found

    async def total(self, commune_id: int, figure: str, periods: Sequence[Period] = EVER, *,
                    hamlet_id: int | None = None, ages: Iterable[str] | None = None) -> list[int]:
        """The counts of `figure` in each period, all groups together."""
        totals = [0] * len(periods)
        for counts in (await self.sums(commune_id, figure, ("hamlet",), periods, hamlet_id=hamlet_id,
                                       ages=ages)).values():
            totals = [a + b for a, b in zip(totals, counts, strict=True)]
        return totals
