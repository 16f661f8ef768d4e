"""What the monthly report holds: plain frozen dataclasses, filled by storage.stats_month."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from storage.stats_sql import ratio


@dataclass(frozen=True)
class MonthFigures:
    """The summary of one month (or, for `MonthReport.to_date`, of everything before the month's end)."""

    new_people: int  # registered in the period (to date: everyone registered by its end)
    active_people: int | None  # None to date
    lessons_completed: int
    assisted_completions: int  # of those, done with a mentor at a 1-1 meeting
    track_finishers: dict[str, int]  # every track id → people who finished it in the period
    escalations_opened: int
    escalations_resolved: int
    median_claim_minutes: float | None
    median_resolve_minutes: float | None
    mean_rating: float | None  # 1-5 stars, over rated requests resolved in the period
    milestones: dict[str, int]  # milestone id → adults whose first "yes" fell in the period (ids with none left out)

    @property
    def track_finishers_total(self) -> int:
        return sum(self.track_finishers.values())


@dataclass(frozen=True)
class MonthHamletRow:
    hamlet_id: int | None  # None: people who have not chosen a hamlet (name NO_HAMLET)
    name: str
    registered: int  # by the end of the month
    new_people: int
    active_people: int
    finishers: int  # people who completed at least one lesson in the month
    lessons_completed: int
    assisted_completions: int
    finished_to_date: int  # people who had completed at least one lesson by the end of the month

    @property
    def completion_rate(self) -> float:
        """finished_to_date / registered (0.0 for an empty hamlet)."""
        return ratio(self.finished_to_date, self.registered)


@dataclass(frozen=True)
class LessonRow:
    lesson_id: str
    title: str
    started: int  # started in the month
    finished: int  # completed in the month
    dropoff_step: str | None  # where most of those who started in the month and have not finished are stuck
    dropoff_label: str  # "bước 3/7", "bài kiểm tra", or "" when nobody is stuck
    dropoff_people: int


@dataclass(frozen=True)
class MentorRow:
    person_id: int
    name: str  # display name (officials who took requests are listed too)
    claimed: int
    resolved: int
    mean_rating: float | None
    assisted_steps: int  # steps recorded as done with their help (step_assisted events)


@dataclass(frozen=True)
class ElderFinisher:
    person_id: int
    name: str  # certificate name, else "Người dân #<id> (<xóm>)"
    hamlet: str
    track_id: str
    finished_at: dt.datetime


@dataclass(frozen=True)
class MentorCommendation:
    person_id: int
    name: str
    resolved: int
    mean_rating: float | None


@dataclass(frozen=True)
class HamletCommendation:
    hamlet_id: int
    name: str
    registered: int
    finished: int
    rate: float  # finished / registered, 0..1


@dataclass(frozen=True)
class Commendations:
    elders: list[ElderFinisher]  # 60+ who finished a track in the month, in the order they finished
    mentors: list[MentorCommendation]  # most requests resolved in the month, then best rated; top 5, mentors only
    hamlets: list[HamletCommendation]  # best completion rate by the month's end; top 3, hamlets of 5+ people


@dataclass(frozen=True)
class ContestWinner:
    rank: int
    person_id: int
    name: str
    score: int
    seconds: int | None


@dataclass(frozen=True)
class ContestResult:
    contest_id: int
    title: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    entries: int
    top: list[ContestWinner]  # score high to low, then faster first; finished entries only; at most 3


@dataclass(frozen=True)
class MonthReport:
    commune_id: int
    commune_name: str
    year: int
    month: int
    period: str  # "11/2026"
    track_titles: dict[str, str]  # track id → title (the id when no title was given)
    this_month: MonthFigures
    previous: MonthFigures
    to_date: MonthFigures
    adults_to_date: int  # adults registered by the month's end: the denominator of milestone shares
    by_hamlet: list[MonthHamletRow]
    by_lesson: list[LessonRow]
    by_mentor: list[MentorRow]
    commendations: Commendations
    contests: list[ContestResult]

    def milestone_share(self, milestone_id: str) -> float:
        """Adults who have reached the milestone by the month's end, as a share of adults (0..1)."""
        return ratio(self.to_date.milestones.get(milestone_id, 0), self.adults_to_date)
