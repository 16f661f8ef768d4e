"""Everything stored about one person, gathered for /dulieucuatoi (the right to see and copy one's data, Law 91/2025
Art 4): every table with a row that points at them. The profile itself (people row) and the consent records are read
by the caller; this gathers the rest."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import LessonProgress, ProgressEvent
from storage.models_commune import Contest, ContestEntry, TrainingDay, TrainingRegistration
from storage.models_help import Certificate, Escalation, Meeting, MentorHamlet


@dataclass(frozen=True)
class Milestone:
    milestone: str
    said_yes: bool  # the latest answer
    at: dt.datetime


@dataclass(frozen=True)
class ContestTaken:
    title: str
    score: int
    answered: int
    seconds: int | None  # None: not finished
    started_at: dt.datetime


@dataclass(frozen=True)
class TrainingJoined:
    title: str
    place: str
    at: dt.datetime


@dataclass
class PersonalData:
    lessons: list[LessonProgress] = field(default_factory=list)  # started or completed, oldest first
    events: int = 0  # rows of the learning log (steps reached, quizzes, milestones)
    milestones: list[Milestone] = field(default_factory=list)
    help_requests: list[Escalation] = field(default_factory=list)  # the person's own, oldest first
    meetings: list[Meeting] = field(default_factory=list)  # 1-1 meetings with a mentor, as the villager
    contests: list[ContestTaken] = field(default_factory=list)
    trainings: list[TrainingJoined] = field(default_factory=list)
    certificates: list[Certificate] = field(default_factory=list)
    mentor_hamlets: list[int] = field(default_factory=list)
    cases_helped: int = 0  # help requests this person took as a mentor or official


class PersonalDataRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def of(self, person_id: int) -> PersonalData:
        s = self._session
        milestones: dict[str, Milestone] = {}
        for step, value, at in (await s.execute(
                select(ProgressEvent.step_id, ProgressEvent.value, ProgressEvent.at)
                .where(ProgressEvent.person_id == person_id, ProgressEvent.kind == "milestone")
                .order_by(ProgressEvent.at, ProgressEvent.id))).all():
            if step:
                milestones[str(step)] = Milestone(str(step), value == 1, at)
        return PersonalData(
            lessons=list(await s.scalars(select(LessonProgress).where(LessonProgress.person_id == person_id)
                                         .order_by(LessonProgress.started_at, LessonProgress.id))),
            events=await s.scalar(select(func.count()).select_from(ProgressEvent)
                                  .where(ProgressEvent.person_id == person_id)) or 0,
            milestones=list(milestones.values()),
            help_requests=list(await s.scalars(select(Escalation).where(Escalation.person_id == person_id)
                                               .order_by(Escalation.created_at, Escalation.id))),
            meetings=list(await s.scalars(select(Meeting).where(Meeting.person_id == person_id)
                                          .order_by(Meeting.at, Meeting.id))),
            contests=[ContestTaken(str(title), int(score), int(answered), seconds, started)
                      for title, score, answered, seconds, started in (await s.execute(
                          select(Contest.title, ContestEntry.score, ContestEntry.answered, ContestEntry.seconds,
                                 ContestEntry.started_at)
                          .join(Contest, Contest.id == ContestEntry.contest_id)
                          .where(ContestEntry.person_id == person_id).order_by(ContestEntry.started_at))).all()],
            trainings=[TrainingJoined(str(title), str(place), at) for title, place, at in (await s.execute(
                select(TrainingDay.title, TrainingDay.place, TrainingDay.at)
                .join(TrainingRegistration, TrainingRegistration.training_id == TrainingDay.id)
                .where(TrainingRegistration.person_id == person_id).order_by(TrainingDay.at))).all()],
            certificates=list(await s.scalars(select(Certificate).where(Certificate.person_id == person_id)
                                              .order_by(Certificate.issued_on, Certificate.id))),
            mentor_hamlets=list(await s.scalars(select(MentorHamlet.hamlet_id)
                                                .where(MentorHamlet.person_id == person_id))),
            cases_helped=await s.scalar(select(func.count()).select_from(Escalation)
                                        .where(Escalation.claimed_by == person_id)) or 0,
        )
