"""The monthly report ("báo cáo tháng") and the commendations ("khen thưởng"): figures over a local calendar month,
the month before, and everything up to the month's end. Use them through `storage.stats.StatsRepo`; the definitions
of the figures are in that module's docstring, their SQL pieces in `storage.stats_sql`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, and_, case, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.anonymous import AnonymousCounts
from storage.db import reads_beside
from storage.models import Commune, LessonProgress, Person, ProgressEvent
from storage.models_commune import Contest, ContestEntry
from storage.models_help import Certificate, Escalation
from storage.stats_sql import (
    ADULT_GROUPS,
    NO_HAMLET,
    VN_ZONE,
    LessonSpec,
    Period,
    StatsQueries,
    Tracks,
    first_milestones,
    flag,
    is_learner,
    joined_learners,
    learners,
    mean,
    median,
    month_bounds,
    person_progress,
    track_done,
    within,
)
from storage.stats_types import (
    Commendations,
    ContestResult,
    ContestWinner,
    ElderFinisher,
    HamletCommendation,
    LessonRow,
    MentorCommendation,
    MentorRow,
    MonthFigures,
    MonthHamletRow,
    MonthReport,
)

# ---- helpers ----------------------------------------------------------------------------------------------------

def previous_month(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def active_in(start: dt.datetime, end: dt.datetime) -> ColumnElement[bool]:
    """A condition on `Person`: active in [start, end) (see storage.stats)."""
    return or_(within(Person.created_at, start, end), within(Person.last_seen_at, start, end),
               Person.id.in_(select(ProgressEvent.person_id).where(within(ProgressEvent.at, start, end))))


def step_label(step_id: str | None, steps: Sequence[str]) -> str:
    """The label of a step: "bước k/n" in the lesson, "bài kiểm tra" for the quiz, the id of a removed step."""
    if step_id is None:
        return ""
    if step_id in steps:
        return f"bước {list(steps).index(step_id) + 1}/{len(steps)}"
    return "bài kiểm tra" if step_id == "quiz" else step_id


def resident_name(person_id: int, hamlet: str | None, certificate_name: str | None) -> str:
    """How a learner is named in reports: their certificate name, else "Người dân #<id> (<xóm>)"."""
    if certificate_name:
        return certificate_name
    return f"Người dân #{person_id} ({hamlet})" if hamlet else f"Người dân #{person_id}"


class Progress(NamedTuple):
    """The per-person progress aggregate of one report (`MonthQueries._progress`), summed by hamlet."""

    periods: int  # k: the first period is the month, the last everything before its end
    by_hamlet: dict[int | None, list[int]]  # hamlet → done_j, assisted_j, people_j (k each), then finished_ji (k × t)
    elders: list[tuple[int, str, dt.datetime]]  # (person, track, finished at): 60+ who finished a track in the month

    def total(self, column: int) -> int:
        return sum(sums[column] for sums in self.by_hamlet.values())

    def hamlet(self, hamlet_id: int | None) -> tuple[int, int, int, int]:
        """People who completed a lesson in the month, lessons, assisted ones; people who completed one by its end."""
        sums = self.by_hamlet.get(hamlet_id)
        k = self.periods
        return (sums[2 * k], sums[0], sums[k], sums[3 * k - 1]) if sums else (0, 0, 0, 0)


# ---- queries ----------------------------------------------------------------------------------------------------

class MonthQueries(StatsQueries):
    """The queries behind `StatsRepo.month` and `StatsRepo.commendations`."""

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        self._active: dict[tuple[int, dt.datetime, dt.datetime], asyncio.Future[dict[int | None, int]]] = {}

    async def month(self, commune_id: int, year: int, month: int, tracks: Tracks, lessons: Sequence[LessonSpec],
                    *, zone: dt.tzinfo = VN_ZONE, track_titles: Mapping[str, str] | None = None) -> MonthReport:
        """Everything the monthly report shows for `month`/`year` (local calendar month in `zone`)."""
        start, end = month_bounds(year, month, zone)
        before = month_bounds(*previous_month(year, month), zone)
        periods: list[Period] = [(start, end), before, (None, end)]
        # The four longest reads start at once, each on a connection of its own (storage.db.reads_beside); the
        # others run here meanwhile, and wait for those only where they need their results.
        async with reads_beside(self._session,
                                lambda s: MonthQueries(s)._progress(commune_id, tracks, periods),
                                lambda s: MonthQueries(s)._count_active(commune_id, start, end),
                                lambda s: MonthQueries(s)._count_active(commune_id, *before),
                                lambda s: MonthQueries(s)._lesson_rows(commune_id, lessons, start, end)
                                ) as (progress, active, active_before, by_lesson):
            self._active[(commune_id, start, end)] = active
            self._active[(commune_id, *before)] = active_before
            commune_name = await self._session.scalar(select(Commune.name).where(Commune.id == commune_id))
            adults_to_date = (await self._session.scalar(select(func.count()).select_from(Person).where(
                *learners(commune_id), Person.age_group.in_(ADULT_GROUPS), Person.created_at < end)) or 0) + (
                await AnonymousCounts(self._session).total(commune_id, "person", [(None, end)], ages=ADULT_GROUPS))[0]
            by_mentor = await self._mentor_rows(commune_id, start, end)
            contests = await self._contests(commune_id, start, end)
            this_month, previous, to_date = await self._figures(commune_id, tracks, periods, progress)
            hamlets = await self._hamlet_rows(commune_id, start, end, await progress)
            commendations = await self._commendations(commune_id, tracks, start, end, hamlets, await progress)
            lesson_rows = await by_lesson
        return MonthReport(
            commune_id=commune_id, commune_name=commune_name or "", year=year, month=month, period=f"{month}/{year}",
            track_titles={t: (track_titles or {}).get(t, t) for t in tracks},
            this_month=this_month, previous=previous, to_date=to_date, adults_to_date=adults_to_date,
            by_hamlet=hamlets, by_lesson=lesson_rows, by_mentor=by_mentor, commendations=commendations,
            contests=contests,
        )

    async def commendations(self, commune_id: int, year: int, month: int, tracks: Tracks, *,
                            zone: dt.tzinfo = VN_ZONE) -> Commendations:
        """Who to thank for `month`/`year`: elders who finished a track, helpful mentors, hamlets that lead."""
        start, end = month_bounds(year, month, zone)
        progress = await self._progress(commune_id, tracks, [(start, end), (None, end)])
        return await self._commendations(commune_id, tracks, start, end,
                                         await self._hamlet_rows(commune_id, start, end, progress), progress)

    async def _progress(self, commune_id: int, tracks: Tracks, periods: Sequence[Period]) -> Progress:
        """The per-person progress aggregate (`person_progress`: one walk over the completed lessons), built once
        per report and summed by hamlet: for each period j, the lessons completed, those with a mentor, and the
        people who completed one; for each period j and track i, the people who finished the track in it. Elders
        who finished a track in the first period come one by one (their own group), for the commendations."""
        per_person = person_progress(commune_id, tracks, periods)
        k, t = len(periods), len(tracks)
        start, end = periods[0]
        finished = [track_done(per_person, tracks, i, start, end) for i in range(t)]
        progress = select(per_person, case((and_(per_person.c.elder == 1, or_(false(), *finished)),
                                            per_person.c.person_id)).label("elder_id")).subquery()
        rows = (await self._session.execute(
            select(progress.c.hamlet_id, progress.c.elder_id,
                   *(func.sum(progress.c[f"done_{j}"]) for j in range(k)),
                   *(func.sum(progress.c[f"assisted_{j}"]) for j in range(k)),
                   *(func.sum(flag(progress.c[f"done_{j}"] > 0)) for j in range(k)),
                   *(func.sum(flag(track_done(progress, tracks, i, a, b))) for a, b in periods for i in range(t)),
                   *(func.max(progress.c[f"last_{i}"]) for i in range(t)))
            .group_by(progress.c.hamlet_id, progress.c.elder_id))).all()
        by_hamlet: dict[int | None, list[int]] = {}
        elders = []
        for hamlet, elder, *values in rows:
            sums = [int(n or 0) for n in values[:k * (3 + t)]]
            found = by_hamlet.setdefault(hamlet, [0] * len(sums))
            by_hamlet[hamlet] = [a + b for a, b in zip(found, sums, strict=True)]
            if elder is not None:  # one person: their tracks finished in the month, and when
                elders += [(int(elder), track, values[k * (3 + t) + i])
                           for i, track in enumerate(tracks) if sums[3 * k + i]]
        return Progress(k, by_hamlet, elders)

    # -- the summary figures --

    async def _figures(self, commune_id: int, tracks: Tracks, periods: Sequence[Period],
                       progress: Awaitable[Progress]) -> list[MonthFigures]:
        """The summary of each period, one query per figure for all periods together (one pass over the rows).
        `progress` (and the active people) are awaited only after the queries, which run meanwhile."""
        s = self._session
        new_people = (await s.execute(select(*(func.sum(flag(within(Person.created_at, a, b))) for a, b in periods))
                                      .select_from(Person).where(*learners(commune_id)))).one()
        anonymous = AnonymousCounts(s)  # people who deleted their data
        gone = {figure: await anonymous.total(commune_id, figure, periods)
                for figure in ("person", "lessons", "assisted")}
        gone_tracks = await anonymous.sums(commune_id, "track", ("key",), periods)
        gone_milestones = await anonymous.sums(commune_id, "milestone", ("key",), periods)
        resolved = [within(Escalation.resolved_at, a, b) for a, b in periods]
        help_figures = (await s.execute(
            select(*(func.sum(flag(within(Escalation.created_at, a, b))) for a, b in periods),
                   *(func.sum(flag(r)) for r in resolved), *(func.avg(case((r, Escalation.rating))) for r in resolved))
            .where(Escalation.commune_id == commune_id))).one()
        firsts = first_milestones(commune_id)
        milestones: list[dict[str, int]] = [{} for _ in periods]
        for milestone, *counts in (await s.execute(
                select(firsts.c.step_id, *(func.sum(flag(within(firsts.c.first_at, a, b))) for a, b in periods))
                .group_by(firsts.c.step_id).order_by(firsts.c.step_id))).all():
            for found, n in zip(milestones, counts, strict=True):
                if n:
                    found[str(milestone)] = int(n)
        for milestone, counts in gone_milestones.items():
            for found, n in zip(milestones, counts, strict=True):
                if n:
                    found[str(milestone)] = found.get(str(milestone), 0) + n
        ours = Escalation.commune_id == commune_id
        minutes = [(await self.help_minutes(Escalation.claimed_at, and_(ours, within(Escalation.claimed_at, a, b))),
                    await self.help_minutes(Escalation.resolved_at, and_(ours, resolved[i])))
                   for i, (a, b) in enumerate(periods)]
        active = [None if a is None else sum((await self._active_by_hamlet(commune_id, a, b)).values())
                  for a, b in periods]
        done = await progress
        k, t = len(periods), len(tracks)
        completions = [done.total(j) for j in range(2 * k)]  # done_j, then assisted_j
        finishers = [{track: done.total(3 * k + j * t + i) + gone_tracks.get(track, [0] * k)[j]
                      for i, track in enumerate(tracks)} for j in range(k)]
        figures = []
        for i, (claim, resolve) in enumerate(minutes):
            figures.append(MonthFigures(
                new_people=int(new_people[i] or 0) + gone["person"][i], active_people=active[i],
                lessons_completed=completions[i] + gone["lessons"][i],
                assisted_completions=completions[k + i] + gone["assisted"][i],
                track_finishers=finishers[i], escalations_opened=int(help_figures[i] or 0),
                escalations_resolved=int(help_figures[k + i] or 0), median_claim_minutes=median(claim),
                median_resolve_minutes=median(resolve), mean_rating=mean(help_figures[2 * k + i]),
                milestones=milestones[i]))
        return figures

    async def _active_by_hamlet(self, commune_id: int, start: dt.datetime, end: dt.datetime) -> dict[int | None, int]:
        """hamlet id → people active in [start, end); remembered (or being counted beside, by `month`), as it walks
        the period's events."""
        key = (commune_id, start, end)
        if key not in self._active:
            counted = asyncio.get_running_loop().create_future()
            counted.set_result(await self._count_active(commune_id, start, end))
            self._active[key] = counted
        return await self._active[key]

    async def _count_active(self, commune_id: int, start: dt.datetime, end: dt.datetime) -> dict[int | None, int]:
        active = {hamlet: int(n) for hamlet, n in (await self._session.execute(
            select(Person.hamlet_id, func.count()).where(*learners(commune_id), active_in(start, end))
            .group_by(Person.hamlet_id))).all()}
        for hamlet, (n,) in (await AnonymousCounts(self._session).sums(commune_id, "active",
                                                                       periods=[(start, end)])).items():
            active[hamlet] = active.get(hamlet, 0) + n
        return active

    # -- the tables --

    async def _count_by_hamlet(self, query: Select[Any]) -> dict[int | None, tuple[int, ...]]:
        return {row[0]: tuple(int(v or 0) for v in row[1:]) for row in (await self._session.execute(query)).all()}

    async def _hamlet_rows(self, commune_id: int, start: dt.datetime, end: dt.datetime,
                           progress: Progress) -> list[MonthHamletRow]:
        people = await self._count_by_hamlet(
            select(Person.hamlet_id, func.count(), func.sum(flag(within(Person.created_at, start, end))))
            .where(*learners(commune_id), Person.created_at < end).group_by(Person.hamlet_id))
        actives = await self._active_by_hamlet(commune_id, start, end)
        # hamlet → people who completed a lesson in the month, lessons, assisted ones, people who had by its end
        lessons: dict[int | None, tuple[int, ...]] = {h: progress.hamlet(h) for h in progress.by_hamlet}
        anonymous = AnonymousCounts(self._session)  # people who deleted their data
        for hamlet, (registered, new) in (await anonymous.sums(commune_id, "person",
                                                              periods=[(None, end), (start, end)])).items():
            people[hamlet] = tuple(a + b for a, b in zip(people.get(hamlet, (0, 0)), (registered, new), strict=True))
        gone = [await anonymous.sums(commune_id, figure, periods=[period]) for figure, period in (
            ("finisher", (start, end)), ("lessons", (start, end)), ("assisted", (start, end)),
            ("first_finish", (None, end)))]
        for hamlet in set().union(*gone):
            lessons[hamlet] = tuple(n + extra.get(hamlet, [0])[0]
                                    for n, extra in zip(lessons.get(hamlet, (0, 0, 0, 0)), gone, strict=True))
        rows = []
        named: list[tuple[int | None, str, bool]] = [*await self.hamlet_names(commune_id), (None, NO_HAMLET, False)]
        for hamlet_id, name, is_active in named:
            registered, new = people.get(hamlet_id, (0, 0))
            if not registered and not is_active:
                continue
            finishers, done, assisted, to_date = lessons.get(hamlet_id, (0, 0, 0, 0))
            rows.append(MonthHamletRow(hamlet_id, name, registered, new, actives.get(hamlet_id, 0),
                                       finishers, done, assisted, to_date))
        return rows

    async def _lesson_rows(self, commune_id: int, lessons: Sequence[LessonSpec], start: dt.datetime,
                           end: dt.datetime) -> list[LessonRow]:
        started_in = within(LessonProgress.started_at, start, end)
        counts = {str(lesson): (int(a or 0), int(b or 0)) for lesson, a, b in (await self._session.execute(
            select(LessonProgress.lesson_id, func.sum(flag(started_in)),
                   func.sum(flag(within(LessonProgress.completed_at, start, end))))
            .join(Person, Person.id == LessonProgress.person_id)
            .where(*joined_learners(commune_id), LessonProgress.started_at < end,
                   or_(started_in, within(LessonProgress.completed_at, start, end)))  # the others add 0 and 0
            .group_by(LessonProgress.lesson_id))).all()}
        anonymous = AnonymousCounts(self._session)  # people who deleted their data
        started_gone = await anonymous.sums(commune_id, "lesson_started", ("key",), [(start, end)])
        done_gone = await anonymous.sums(commune_id, "lesson_done", ("key",), [(start, end)])
        for lesson in set(started_gone) | set(done_gone):
            a, b = counts.get(lesson, (0, 0))
            counts[lesson] = (a + started_gone.get(lesson, [0])[0], b + done_gone.get(lesson, [0])[0])
        stuck: dict[str, list[tuple[str | None, int]]] = {}
        for lesson, step, n in (await self._session.execute(
                select(LessonProgress.lesson_id, LessonProgress.step_id, func.count())
                .join(Person, Person.id == LessonProgress.person_id)
                .where(*learners(commune_id), started_in, LessonProgress.completed_at.is_(None))
                .group_by(LessonProgress.lesson_id, LessonProgress.step_id))).all():
            stuck.setdefault(str(lesson), []).append((step, int(n)))
        rows = []
        for lesson_id, title, steps in lessons:
            order = {step: i for i, step in enumerate(steps)}
            # Most people first; on a tie the earlier step (unknown ids, e.g. "quiz", after the steps).
            worst = min(stuck.get(lesson_id, []), key=lambda sn: (-sn[1], order.get(sn[0] or "", len(order)),
                                                                  sn[0] or ""), default=(None, 0))
            started, finished = counts.get(lesson_id, (0, 0))
            rows.append(LessonRow(lesson_id, title, started, finished, worst[0], step_label(worst[0], steps),
                                  worst[1]))
        return rows

    async def _mentor_rows(self, commune_id: int, start: dt.datetime, end: dt.datetime) -> list[MentorRow]:
        resolved_in = within(Escalation.resolved_at, start, end)
        claims = {int(p): (int(c or 0), int(r or 0), mean(m)) for p, c, r, m in (await self._session.execute(
            select(Escalation.claimed_by, func.sum(flag(within(Escalation.claimed_at, start, end))),
                   func.sum(flag(resolved_in)), func.avg(case((resolved_in, Escalation.rating))))
            .where(Escalation.commune_id == commune_id, Escalation.claimed_by.is_not(None))
            .group_by(Escalation.claimed_by))).all()}
        assists = {int(v): int(n) for v, n in (await self._session.execute(
            select(ProgressEvent.value, func.count())
            .where(ProgressEvent.kind == "step_assisted", within(ProgressEvent.at, start, end),
                   ProgressEvent.value.is_not(None), is_learner(ProgressEvent.person_id, commune_id))
            .group_by(ProgressEvent.value))).all()}
        helpers = {p for p, (c, r, _) in claims.items() if c or r} | set(assists)
        people = (await self._session.execute(select(Person.id, Person.display_name).where(
            (Person.id.in_(helpers)) | and_(Person.commune_id == commune_id, Person.is_mentor.is_(True))))).all()
        rows = [MentorRow(int(p), name or f"#{p}", *claims.get(int(p), (0, 0, None)), assists.get(int(p), 0))
                for p, name in people]
        return sorted(rows, key=lambda r: (-r.resolved, -r.claimed, -r.assisted_steps, r.name, r.person_id))

    async def _names(self, commune_id: int, person_ids: set[int]) -> dict[int, tuple[str, str]]:
        """person id → (report name, hamlet name) for a few people."""
        hamlets = {h: n for h, n, _ in await self.hamlet_names(commune_id)}
        certificates = dict((await self._session.execute(
            select(Certificate.person_id, Certificate.name).where(Certificate.person_id.in_(person_ids))
            .order_by(Certificate.issued_on, Certificate.id))).tuples().all())
        found = {}
        for p, h in (await self._session.execute(select(Person.id, Person.hamlet_id)
                                                 .where(Person.id.in_(person_ids)))).all():
            hamlet = hamlets.get(h, "") if h is not None else ""
            found[int(p)] = (resident_name(int(p), hamlet, certificates.get(p)), hamlet)
        return found

    async def _commendations(self, commune_id: int, tracks: Tracks, start: dt.datetime, end: dt.datetime,
                             hamlet_rows: list[MonthHamletRow], progress: Progress) -> Commendations:
        names = await self._names(commune_id, {person for person, _, _ in progress.elders})
        elders = sorted((ElderFinisher(person, *names[person], track, at) for person, track, at in progress.elders),
                        key=lambda e: (e.finished_at, e.person_id, e.track_id))
        resolved = (await self._session.execute(
            select(Escalation.claimed_by, Person.display_name, func.count(), func.avg(Escalation.rating))
            .join(Person, Person.id == Escalation.claimed_by)
            .where(Escalation.commune_id == commune_id, Person.is_mentor.is_(True),
                   within(Escalation.resolved_at, start, end))
            .group_by(Escalation.claimed_by, Person.display_name))).all()
        mentors = sorted((MentorCommendation(int(p), name or f"#{p}", int(n), mean(m)) for p, name, n, m in resolved),
                         key=lambda m: (-m.resolved, -(m.mean_rating or 0), m.name))[:5]
        hamlets = sorted((HamletCommendation(r.hamlet_id, r.name, r.registered, r.finished_to_date, r.completion_rate)
                          for r in hamlet_rows if r.hamlet_id is not None and r.registered >= 5),
                         key=lambda h: (-h.rate, -h.registered))[:3]
        return Commendations(elders=elders, mentors=mentors, hamlets=hamlets)

    async def _contests(self, commune_id: int, start: dt.datetime, end: dt.datetime) -> list[ContestResult]:
        """Contests of the commune that ended in the month, with their top three."""
        contests = (await self._session.execute(
            select(Contest.id, Contest.title, Contest.starts_at, Contest.ends_at)
            .where(Contest.commune_id == commune_id, within(Contest.ends_at, start, end))
            .order_by(Contest.ends_at, Contest.id))).all()
        results = []
        for contest_id, title, starts_at, ends_at in contests:
            entries = await self._session.scalar(select(func.count()).select_from(ContestEntry).where(
                ContestEntry.contest_id == contest_id)) or 0
            top = (await self._session.execute(
                select(ContestEntry.person_id, ContestEntry.score, ContestEntry.seconds)
                .where(ContestEntry.contest_id == contest_id, ContestEntry.finished_at.is_not(None))
                .order_by(ContestEntry.score.desc(), ContestEntry.seconds, ContestEntry.finished_at,
                          ContestEntry.person_id).limit(3))).all()
            names = await self._names(commune_id, {int(p) for p, _, _ in top})
            results.append(ContestResult(int(contest_id), str(title), starts_at, ends_at, entries, [
                ContestWinner(rank, int(p), names[int(p)][0], int(score), seconds)
                for rank, (p, score, seconds) in enumerate(top, start=1)]))
        return results
