"""Tables of the human half: mentor invites, the hamlets mentors serve, help requests, 1-1 meetings, jobs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, BigId, utcnow


class Invite(Base):
    """A single-use code that makes someone a mentor (or an official). Only its hash is kept."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    commune_id: Mapped[int] = mapped_column(ForeignKey("communes.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    used_by: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))


class MentorHamlet(Base):
    __tablename__ = "mentor_hamlets"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    hamlet_id: Mapped[int] = mapped_column(ForeignKey("hamlets.id", ondelete="CASCADE"), primary_key=True, index=True)


class Escalation(Base):
    """A help request ("yêu cầu hỗ trợ"): who is stuck where, who claimed it, how it ended."""

    __tablename__ = "escalations"
    __table_args__ = (Index("ix_escalations_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    commune_id: Mapped[int] = mapped_column(ForeignKey("communes.id"))
    hamlet_id: Mapped[int | None] = mapped_column(ForeignKey("hamlets.id"))
    age_group: Mapped[str | None] = mapped_column(String(16))
    lesson_id: Mapped[str | None] = mapped_column(String(24))
    step_id: Mapped[str | None] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))  # question | photo | visit
    question: Mapped[str] = mapped_column(Text, default="")
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)  # last answers and the like
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | claimed | resolved
    level: Mapped[int] = mapped_column(Integer, default=0)  # 0 hamlet mentors, 1 all mentors, 2 officials
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[dt.datetime | None]
    resolved_at: Mapped[dt.datetime | None]
    rating: Mapped[int | None] = mapped_column(Integer)
    reopened: Mapped[int] = mapped_column(Integer, default=0)
    phone_shared: Mapped[bool] = mapped_column(Boolean, default=False)


class Meeting(Base):
    """A 1-1 coaching session ("kèm cặp 1-1") a mentor proposes for a help request."""

    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalations.id", ondelete="CASCADE"), index=True)
    mentor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime]
    place: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="proposed")  # proposed | confirmed | declined | done
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Job(Base):
    """A durable timer: survives restarts, fires once (its inbox key is `job:<id>`)."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_due", "done_at", "run_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    run_at: Mapped[dt.datetime]
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    done_at: Mapped[dt.datetime | None]


class Certificate(Base):
    """A certificate for finishing a track. Verified by an unguessable code (only its hash is kept);
    deleting the person deletes it, and it stops verifying."""

    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    track_id: Mapped[str] = mapped_column(String(24))
    track_title: Mapped[str] = mapped_column(String(120))
    commune_name: Mapped[str] = mapped_column(String(120))
    issued_on: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
