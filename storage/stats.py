"""Statistics for officials: the commune at a glance (`overview`, for /thongke) and the monthly report (`month`,
`commendations`, for /baocao, /khenthuong and the export; their queries and dataclasses are in
`storage.stats_month`), in one repository. The SQL pieces both build on are in `storage.stats_sql`.

    stats = StatsRepo(session)
    view = await stats.overview(commune.id, tracks, now=utcnow(), zone=VN_ZONE)
    report = await stats.month(commune.id, 2026, 11, tracks, lessons, zone=VN_ZONE, track_titles=titles)

`tracks` maps each track id to its lesson ids and `lessons` lists (lesson id, title, step ids), both from the lesson
catalog (storage imports nothing of ours; `bot.media.report.catalog_inputs` builds them). Each figure is an
aggregate query (GROUP BY); only short lists (durations of help requests, a few names) come back as rows. The
overview counts lessons, tracks and milestones from the totals that triggers keep on each person's row (migration
0009: `Person.lessons_done`, `lessons_assisted`, `lesson_ids`, `milestone_ids`), in one walk over an index of
people; the monthly report, which needs them by month, reads the progress rows and events themselves.

Definitions, the same in every figure:
- registered: people of the commune who are not officials (officials are not learners, and are left out of every
  learner figure); adults: age group 16-29, 30-59 or 60+; elders: 60+;
- a track is finished when every one of its lessons is completed, at the last of those completions;
- a milestone counts an adult once, at their first "Rồi" (value 1) to it; shares are of adults;
- active in the last 7 (30) days: last seen today or on the 6 (29) local calendar days before;
- active in a month: registered in it, last seen in it, or with any progress event in it (`last_seen_at` keeps only
  the latest visit, so past months rest on the events);
- help requests: opened by `created_at`; in a month, claim time counts in the month of the claim, resolve time
  (from opening) and rating in the month of the resolution; medians are over those requests;
- to date ("lũy kế"): everything before the end of the month;
- people who deleted their data still count, through the anonymous counts kept when they did (storage.anonymous),
  except in "active in the last 7 (30) days", the help-request figures, the mentors and the named lists.
Months and days are local to `zone` (Asia/Ho_Chi_Minh); the database holds UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import ColumnElement, and_, func, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.anonymous import AnonymousCounts
from storage.db import read_together
from storage.models import Person
from storage.models_help import Escalation, MentorHamlet
from storage.stats_cache import OVERVIEWS, writes_pending
from storage.stats_sql import (
    ADULT_GROUPS,
    AGE_GROUPS,
    ELDERS,
    NO_HAMLET,
    UNKNOWN_AGE,
    VN_ZONE,
    LessonSpec,
    StatsQueries,
    Tracks,
    flag,
    learners,
    listed,
    mean,
    median,
    ratio,
)

if TYPE_CHECKING:
    from storage.stats_types import Commendations, MonthReport

# ---- the overview -----------------------------------------------------------------------------------------------

class MilestoneShare(NamedTuple):
    people: int  # adults who ever said "Rồi"
    share: float  # people / adults, 0..1


@dataclass(frozen=True)
class HamletRow:
    hamlet_id: int | None  # None: people who have not chosen a hamlet (name NO_HAMLET)
    name: str
    registered: int
    finishers: int  # completed at least one lesson
    lessons_completed: int
    elders: int  # 60+ registered

    @property
    def completion_rate(self) -> float:
        return ratio(self.finishers, self.registered)


@dataclass(frozen=True)
class EscalationFigures:
    open: int
    claimed: int
    resolved: int
    median_claim_minutes: float | None  # over every request ever claimed
    median_resolve_minutes: float | None  # from opening, over every resolved request
    mean_rating: float | None  # over every rated request


@dataclass(frozen=True)
class Overview:
    """The commune (or one hamlet of it) now. For a hamlet: its people, its help requests, the mentors serving it."""

    as_of: dt.datetime
    hamlet_id: int | None
    registered: int
    adults: int
    elders: int
    active_7d: int
    active_30d: int
    lessons_completed: int
    assisted_completions: int  # of those, done with a mentor at a 1-1 meeting
    track_finishers: dict[str, int]  # every track id → people who completed every lesson of it
    by_hamlet: list[HamletRow]  # active hamlets in order, inactive ones that still have people, then NO_HAMLET
    by_age: dict[str, int]  # every AGE_GROUPS key, then UNKNOWN_AGE when some people gave none
    escalations: EscalationFigures
    mentors_active: int  # mentors not paused
    milestones: dict[str, MilestoneShare]  # milestone id → adults who said yes (ids nobody said yes to left out)

    @property
    def finishers(self) -> int:
        """People who completed at least one lesson."""
        return sum(row.finishers for row in self.by_hamlet)


# ---- the walk over the learners' totals ------------------------------------------------------------------

async def _learner_totals(session: AsyncSession, commune_id: int, tracks: Tracks, hamlet_id: int | None) -> list[Any]:
    """One walk over ix_people_totals (the learners with a completed lesson or a milestone): by hamlet, age group
    and set of milestones reached (milestone_ids), the people, those who completed at least one lesson, the
    lessons completed, of those the assisted ones, and for each track in `tracks` the people who completed
    every lesson of it (with its lesson count first, so most people are passed over by one comparison).
    COUNT(*) FILTER (WHERE …) rather than SUM(CASE …): the same on both databases, and a sixth faster on SQLite."""
    find = func.instr if session.get_bind().dialect.name == "sqlite" else func.strpos

    def finished(lessons: Sequence[str]) -> ColumnElement[int]:
        wanted = sorted(set(lessons))
        if not wanted:
            return literal_column("0")
        return func.count().filter(and_(Person.lessons_done >= len(wanted),
                                        *(find(Person.lesson_ids, f",{lesson},") > 0 for lesson in wanted)))

    # The index's own WHERE repeated, so that SQLite may use it.
    where = [*learners(commune_id, hamlet_id), or_(Person.lessons_done > 0, Person.milestone_ids.is_not(None))]
    groups = (Person.hamlet_id, Person.age_group, Person.milestone_ids)
    return [*(await session.execute(
        select(*groups, func.count(), func.count().filter(Person.lessons_done > 0), func.sum(Person.lessons_done),
               func.sum(Person.lessons_assisted), *(finished(lessons) for lessons in tracks.values()))
        .where(*where).group_by(*groups))).all()]


# ---- the repository ---------------------------------------------------------------------------------------------

class StatsRepo(StatsQueries):
    async def overview(self, commune_id: int, tracks: Tracks, *, hamlet_id: int | None = None,
                       now: dt.datetime, zone: dt.tzinfo = VN_ZONE, max_age: float = 0.0) -> Overview:
        """The commune's figures at `now` (an aware datetime), or one hamlet's.

        With `max_age` (seconds), the overview of the same commune (hamlet), tracks and local day that this process
        computed at most that long ago is returned instead, unless a write that could change it has been committed
        here since (storage.stats_cache says which, and what it cannot see); its `as_of` says when it was computed.
        """
        key = (str(self._session.get_bind().engine.url), commune_id, hamlet_id,
               tuple((track, tuple(lessons)) for track, lessons in tracks.items()), str(zone),
               now.astimezone(zone).date())
        if writes_pending(self._session.sync_session):  # this transaction's own writes: read them
            return await self._overview(commune_id, tracks, hamlet_id, now, zone)
        if max_age > 0 and (found := OVERVIEWS.get(key, max_age)) is not None and found.as_of <= now:
            return found
        generation = OVERVIEWS.generation
        view = await self._overview(commune_id, tracks, hamlet_id, now, zone)
        OVERVIEWS.put(key, generation, view)
        return view

    async def _overview(self, commune_id: int, tracks: Tracks, hamlet_id: int | None, now: dt.datetime,
                        zone: dt.tzinfo) -> Overview:
        s = self._session
        today = dt.datetime.combine(now.astimezone(zone).date(), dt.time(), tzinfo=zone)
        since_7d = (today - dt.timedelta(days=6)).astimezone(dt.UTC)
        since_30d = (today - dt.timedelta(days=29)).astimezone(dt.UTC)
        by_group = (select(Person.hamlet_id, Person.age_group, func.count(),
                           func.count().filter(Person.last_seen_at >= since_7d),
                           func.count().filter(Person.last_seen_at >= since_30d))
                    .where(*learners(commune_id, hamlet_id)).group_by(Person.hamlet_id, Person.age_group))

        async def people_by_group(session: AsyncSession) -> list[Any]:
            return [*(await session.execute(by_group)).all()]

        # The two walks over people at the same time, each on a connection of its own, unless this transaction
        # has written something they must see.
        walks = (people_by_group, lambda session: _learner_totals(session, commune_id, tracks, hamlet_id))
        if writes_pending(s.sync_session):
            people, totals = [await walk(s) for walk in walks]
        else:
            people, totals = await read_together(s, *walks)
        anonymous = AnonymousCounts(s)
        people += [(hamlet, age, n, 0, 0) for (hamlet, age), (n,) in (await anonymous.sums(
            commune_id, "person", ("hamlet", "age"), hamlet_id=hamlet_id)).items()]
        by_age = dict.fromkeys(AGE_GROUPS, 0)
        registered: dict[int | None, int] = {}
        elders: dict[int | None, int] = {}
        active_7d = active_30d = 0
        for hamlet, age, n, seen_7d, seen_30d in people:
            key = age if age in by_age else UNKNOWN_AGE
            by_age[key] = by_age.get(key, 0) + int(n)
            registered[hamlet] = registered.get(hamlet, 0) + int(n)
            elders[hamlet] = elders.get(hamlet, 0) + (int(n) if age == ELDERS else 0)
            active_7d += int(seen_7d or 0)
            active_30d += int(seen_30d or 0)
        done: dict[int | None, tuple[int, int, int]] = {}
        track_finishers = dict.fromkeys(tracks, 0)
        milestones: dict[str, int] = {}
        for hamlet, age, reached, in_group, people_done, lessons, assisted, *tracks_done in totals:
            before = done.get(hamlet, (0, 0, 0))
            done[hamlet] = (before[0] + int(people_done or 0), before[1] + int(lessons or 0),
                            before[2] + int(assisted or 0))
            for track, n in zip(tracks, tracks_done, strict=True):
                track_finishers[track] += int(n or 0)
            if age in ADULT_GROUPS:
                for milestone in listed(reached):
                    milestones[milestone] = milestones.get(milestone, 0) + int(in_group)
        for i, figure in enumerate(("first_finish", "lessons", "assisted")):
            for hamlet, (n,) in (await anonymous.sums(commune_id, figure, hamlet_id=hamlet_id)).items():
                counts = list(done.get(hamlet, (0, 0, 0)))
                counts[i] += n
                done[hamlet] = (counts[0], counts[1], counts[2])
        for track, (n,) in (await anonymous.sums(commune_id, "track", ("key",), hamlet_id=hamlet_id)).items():
            if track in track_finishers:
                track_finishers[track] += n
        rows = []
        for row_id, name, is_active in [*await self.hamlet_names(commune_id), (None, NO_HAMLET, False)]:
            if (hamlet_id is not None and row_id != hamlet_id) or not (registered.get(row_id) or is_active):
                continue
            finishers, completed, _ = done.get(row_id, (0, 0, 0))
            rows.append(HamletRow(row_id, name, registered.get(row_id, 0), finishers, completed,
                                  elders.get(row_id, 0)))
        adults = sum(by_age[g] for g in ADULT_GROUPS)
        return Overview(
            as_of=now, hamlet_id=hamlet_id, registered=sum(registered.values()), adults=adults,
            elders=by_age[ELDERS], active_7d=active_7d, active_30d=active_30d,
            lessons_completed=sum(n for _, n, _ in done.values()),
            assisted_completions=sum(a for _, _, a in done.values()),
            track_finishers=track_finishers,
            by_hamlet=rows, by_age=by_age,
            escalations=await self._escalations(commune_id, hamlet_id),
            mentors_active=await self._mentors_active(commune_id, hamlet_id),
            milestones=await self._milestones(commune_id, hamlet_id, adults, milestones),
        )

    async def month(self, commune_id: int, year: int, month: int, tracks: Tracks, lessons: Sequence[LessonSpec],
                    *, zone: dt.tzinfo = VN_ZONE, track_titles: Mapping[str, str] | None = None) -> MonthReport:
        """Everything the monthly report shows for the local calendar month `month`/`year` (see stats_month)."""
        from storage.stats_month import MonthQueries  # imported when first asked for: not needed to start

        return await MonthQueries(self._session).month(commune_id, year, month, tracks, lessons, zone=zone,
                                                       track_titles=track_titles)

    async def commendations(self, commune_id: int, year: int, month: int, tracks: Tracks, *,
                            zone: dt.tzinfo = VN_ZONE) -> Commendations:
        """Who to thank for the month: elders who finished a track, helpful mentors, hamlets that lead."""
        from storage.stats_month import MonthQueries

        return await MonthQueries(self._session).commendations(commune_id, year, month, tracks, zone=zone)

    async def _escalations(self, commune_id: int, hamlet_id: int | None) -> EscalationFigures:
        where: list[ColumnElement[bool]] = [Escalation.commune_id == commune_id]
        if hamlet_id is not None:
            where.append(Escalation.hamlet_id == hamlet_id)
        open_, claimed, resolved, rating = (await self._session.execute(
            select(*(func.sum(flag(Escalation.status == status)) for status in ("open", "claimed", "resolved")),
                   func.avg(Escalation.rating)).where(*where))).one()
        claim = await self.help_minutes(Escalation.claimed_at, and_(*where, Escalation.claimed_at.is_not(None)))
        resolve = await self.help_minutes(Escalation.resolved_at, and_(*where, Escalation.resolved_at.is_not(None)))
        return EscalationFigures(int(open_ or 0), int(claimed or 0), int(resolved or 0), median(claim),
                                 median(resolve), mean(rating))

    async def _mentors_active(self, commune_id: int, hamlet_id: int | None) -> int:
        query = select(func.count(func.distinct(Person.id))).select_from(Person).where(
            Person.commune_id == commune_id, Person.is_mentor.is_(True), Person.mentor_paused.is_(False))
        if hamlet_id is not None:
            query = query.join(MentorHamlet, and_(MentorHamlet.person_id == Person.id,
                                                  MentorHamlet.hamlet_id == hamlet_id))
        return await self._session.scalar(query) or 0

    async def _milestones(self, commune_id: int, hamlet_id: int | None, adults: int,
                          counts: dict[str, int]) -> dict[str, MilestoneShare]:
        """Shares of `counts` (milestone id → adults who said yes), deleted people's anonymous counts added."""
        counts = dict(counts)
        for milestone, (n,) in (await AnonymousCounts(self._session).sums(commune_id, "milestone", ("key",),
                                                                          hamlet_id=hamlet_id)).items():
            counts[milestone] = counts.get(milestone, 0) + n
        return {str(m): MilestoneShare(int(n), ratio(int(n), adults)) for m, n in sorted(counts.items())}
