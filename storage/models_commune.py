"""Tables of the officials' work: broadcasts, training days and their registrations, quiz contests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, BigId, utcnow


class Broadcast(Base):
    """An announcement ("thông báo") to everyone, one hamlet or one age group. Its messages are outbox rows
    tagged with its id, so delivery resumes after a crash and nothing is sent twice."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    commune_id: Mapped[int] = mapped_column(ForeignKey("communes.id"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    photo: Mapped[str | None] = mapped_column(String(64))  # a media token
    audience: Mapped[str] = mapped_column(String(32))  # "all" | "hamlet:<id>" | "age:<group>"
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft | sending | done | cancelled
    total: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]


class TrainingDay(Base):
    """A training day ("buổi tập huấn") people can register for; reminded the day before."""

    __tablename__ = "training_days"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    commune_id: Mapped[int] = mapped_column(ForeignKey("communes.id"))
    hamlet_id: Mapped[int | None] = mapped_column(ForeignKey("hamlets.id"))  # None: the whole commune
    title: Mapped[str] = mapped_column(String(200))
    place: Mapped[str] = mapped_column(String(200))
    at: Mapped[dt.datetime] = mapped_column(index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TrainingRegistration(Base):
    __tablename__ = "training_registrations"

    training_id: Mapped[int] = mapped_column(ForeignKey("training_days.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Contest(Base):
    """An online quiz contest ("thi trắc nghiệm") drawn from lesson quizzes, open between two times."""

    __tablename__ = "contests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    commune_id: Mapped[int] = mapped_column(ForeignKey("communes.id"))
    title: Mapped[str] = mapped_column(String(200))
    questions: Mapped[list[Any]] = mapped_column(default=list)  # [[lesson_id, question_id], …]
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ContestEntry(Base):
    __tablename__ = "contest_entries"
    __table_args__ = (Index("ix_contest_entries_rank", "contest_id", "score", "seconds"),)

    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    score: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[int | None] = mapped_column(Integer)  # set when finished
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]
