"""The statistics' query vocabulary, shared by the overview (`storage.stats`) and the monthly report
(`storage.stats_month`): the definitions of that module's docstring (who is a learner, an adult, an elder; periods
in local months) as SQL pieces, and the small reads both make.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Subquery, and_, case, extract, false, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Hamlet, LessonProgress, Person, ProgressEvent
from storage.models_help import Escalation

VN_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
AGE_GROUPS = ("u16", "16-29", "30-59", "60+")
ADULT_GROUPS = ("16-29", "30-59", "60+")
ELDERS = "60+"
UNKNOWN_AGE = "unknown"  # the by_age key of people who gave no age group
NO_HAMLET = "Chưa chọn xóm"  # the row of people who have not chosen a hamlet

Tracks = Mapping[str, Sequence[str]]  # track id → the ids of its lessons (a lesson belongs to one track)
LessonSpec = tuple[str, str, Sequence[str]]  # (lesson id, title, step ids in order)
Period = tuple[dt.datetime | None, dt.datetime]  # [start, end) in UTC; no start: everything before end


def ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def month_bounds(year: int, month: int, zone: dt.tzinfo = VN_ZONE) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants at which the local calendar month starts and the next one starts."""
    start = dt.datetime(year, month, 1, tzinfo=zone)
    end = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def learners(commune_id: int, hamlet_id: int | None = None) -> list[ColumnElement[bool]]:
    """Conditions on `Person` selecting the registered people of a commune (or of one hamlet)."""
    where = [Person.commune_id == commune_id, Person.is_official.is_(False)]
    if hamlet_id is not None:
        where.append(Person.hamlet_id == hamlet_id)
    return where


def within(column: Any, start: dt.datetime | None, end: dt.datetime | None) -> ColumnElement[bool]:
    """start <= column < end; a missing bound is open (NULL never matches)."""
    parts = [column.is_not(None)]
    if start is not None:
        parts.append(column >= start)
    if end is not None:
        parts.append(column < end)
    return and_(*parts)


def flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """SUM(flag(x)) counts the rows where x holds, on SQLite and PostgreSQL alike."""
    return case((condition, 1), else_=0)


def median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 1) if present else None


def mean(value: Any) -> float | None:
    """An AVG() result (a Decimal on PostgreSQL) as a float with 2 decimals."""
    return None if value is None else round(float(value), 2)


def is_learner(person_id: Any, commune_id: int, hamlet_id: int | None = None, *,
               adults: bool = False) -> ColumnElement[bool]:
    """EXISTS: the person `person_id` (a column of another table) is registered in the commune (hamlet), and an
    adult if asked. Written as EXISTS so that SQLite walks the events (by time, or in one pass) and looks each
    person up by primary key, instead of walking each person's events."""
    where = [Person.id == person_id, *learners(commune_id, hamlet_id)]
    if adults:
        where.append(Person.age_group.in_(ADULT_GROUPS))
    return select(Person.id).where(*where).exists()


def joined_learners(commune_id: int, hamlet_id: int | None = None) -> list[ColumnElement[bool]]:
    """`learners`, for a query that walks another table and joins each of its rows to its person by primary key.

    The commune (hamlet) is compared as `commune_id + 0`, which no index serves: SQLite, which has no statistics
    to go on, would otherwise start from the commune's people and search the other table once per person (a third
    slower on 100,000 people, and the rows no longer come in person order)."""
    where = [Person.commune_id + 0 == commune_id, Person.is_official.is_(False)]
    if hamlet_id is not None:
        where.append(Person.hamlet_id + 0 == hamlet_id)
    return where


def person_progress(commune_id: int, tracks: Tracks, periods: Sequence[Period] = (),
                    hamlet_id: int | None = None, *, detail: bool = True) -> Subquery:
    """One row per registered person who completed a lesson, from one walk over the completed rows of
    lesson_progress (the partial index ix_progress_completed, in person order), each row joined to its person:
    person_id, hamlet_id; done and assisted (lessons completed, and of those with a mentor, all time); done_j and
    assisted_j for each period j; lessons_i (lessons of track i completed) for each track i, in the order of
    `tracks`; with `detail` (the monthly report), also elder (1 for 60+) and last_i (the last completion of track
    i). Read it with `track_done`."""
    lp = LessonProgress
    helped = lp.assisted.is_(True)
    columns: list[Any] = [lp.person_id, func.max(Person.hamlet_id).label("hamlet_id"),  # one person: one hamlet
                          func.count().label("done"), func.sum(flag(helped)).label("assisted")]
    if detail:
        columns.append(func.max(flag(Person.age_group == ELDERS)).label("elder"))
    for j, (start, end) in enumerate(periods):
        done = within(lp.completed_at, start, end)
        columns += [func.sum(flag(done)).label(f"done_{j}"), func.sum(flag(and_(done, helped))).label(f"assisted_{j}")]
    for i, lessons in enumerate(tracks.values()):
        ours = lp.lesson_id.in_(list(lessons)) if lessons else false()
        columns.append(func.sum(flag(ours)).label(f"lessons_{i}"))
        if detail:
            columns.append(func.max(case((ours, lp.completed_at))).label(f"last_{i}"))
    return (select(*columns).join(Person, Person.id == lp.person_id)
            .where(lp.completed_at.is_not(None), *joined_learners(commune_id, hamlet_id))
            .group_by(lp.person_id).subquery())


def track_done(progress: Subquery, tracks: Tracks, i: int, start: dt.datetime | None = None,
               end: dt.datetime | None = None) -> ColumnElement[bool]:
    """The person of a `person_progress` row finished the i-th track (in [start, end) when given)."""
    size = len(set(list(tracks.values())[i]))
    if not size:
        return false()
    finished = progress.c[f"lessons_{i}"] == size
    if start is None and end is None:
        return finished
    return and_(finished, within(progress.c[f"last_{i}"], start, end))


def first_milestones(commune_id: int, hamlet_id: int | None = None) -> Subquery:
    """(step_id = milestone id, person_id, first_at): each adult's first "yes" to each milestone, from one walk over
    the milestone answers (ix_events_kind_step), each joined to its person."""
    return (select(ProgressEvent.step_id, ProgressEvent.person_id, func.min(ProgressEvent.at).label("first_at"))
            .join(Person, Person.id == ProgressEvent.person_id)
            .where(ProgressEvent.kind == "milestone", ProgressEvent.value == 1,
                   *joined_learners(commune_id, hamlet_id), Person.age_group.in_(ADULT_GROUPS))
            .group_by(ProgressEvent.step_id, ProgressEvent.person_id)
            .subquery())


def listed(ids: str | None) -> list[str]:
    """",a,b," (`Person.lesson_ids`, `Person.milestone_ids`: kept by the triggers of migration 0009) → ["a", "b"]."""
    return [i for i in (ids or "").split(",") if i]


class StatsQueries:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def hamlet_names(self, commune_id: int) -> list[tuple[int, str, bool]]:
        """(id, name, active) of the commune's hamlets in their configured order."""
        rows = await self._session.execute(select(Hamlet.id, Hamlet.name, Hamlet.active)
                                           .where(Hamlet.commune_id == commune_id)
                                           .order_by(Hamlet.position, Hamlet.id))
        return [(int(i), str(n), bool(a)) for i, n, a in rows.all()]

    async def help_minutes(self, until: Any, where: ColumnElement[bool]) -> list[float | None]:
        """Minutes from opening to `until` (claimed_at or resolved_at) of the help requests matching `where`."""
        if self._session.get_bind().dialect.name == "sqlite":
            minutes: ColumnElement[Any] = (func.julianday(until) - func.julianday(Escalation.created_at)) * 1440.0
        else:
            minutes = extract("epoch", until - Escalation.created_at) / 60.0
        return [None if m is None else float(m) for m in await self._session.scalars(select(minutes).where(where))]
