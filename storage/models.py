"""Typed tables. Times are stored in UTC; people are shown Asia/Ho_Chi_Minh.

Communes → hamlets → people from the start, so one deployment can serve many communes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stores aware datetimes as UTC; SQLite hands back naive values, which are UTC by construction."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# Integer primary keys: BIGINT on PostgreSQL, INTEGER (rowid alias) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dt.datetime: UTCDateTime(), dict[str, Any]: JSON(),
                                                    list[Any]: JSON()}


class Commune(Base):
    __tablename__ = "communes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    hamlets: Mapped[list[Hamlet]] = relationship(back_populates="commune", order_by="Hamlet.position")


class Hamlet(Base):
    __tablename__ = "hamlets"
    __table_args__ = (Index("ix_hamlets_commune_name", "commune_id", "name", unique=True),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    commune_id: Mapped[int] = mapped_column(ForeignKey("communes.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    commune: Mapped[Commune] = relationship(back_populates="hamlets")


class Person(Base):
    """Someone who said "Đồng ý". Nobody who declined or has not answered yet has a row here."""

    __tablename__ = "people"
    # The statistics (storage.stats) count learners and mentors from these alone (migration 0008).
    __table_args__ = (Index("ix_people_learners", "commune_id", "is_official", "hamlet_id", "age_group",
                            "last_seen_at", "created_at"),
                      Index("ix_people_mentors", "commune_id", "is_mentor", "mentor_paused"),
                      # Migration 0009: the learner totals below, for the people with any.
                      Index("ix_people_totals", "commune_id", "is_official", "hamlet_id", "age_group",
                            "milestone_ids", "lessons_done", "lessons_assisted", "lesson_ids",
                            sqlite_where=text("lessons_done > 0 OR milestone_ids IS NOT NULL"),
                            postgresql_where=text("lessons_done > 0 OR milestone_ids IS NOT NULL")))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ref: Mapped[str] = mapped_column(String(160), unique=True)
    commune_id: Mapped[int] = mapped_column(ForeignKey("communes.id"), index=True)
    hamlet_id: Mapped[int | None] = mapped_column(ForeignKey("hamlets.id"), index=True)
    age_group: Mapped[str | None] = mapped_column(String(16))
    guardian_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    is_mentor: Mapped[bool] = mapped_column(Boolean, default=False)
    is_official: Mapped[bool] = mapped_column(Boolean, default=False)
    mentor_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    announcements_off: Mapped[bool] = mapped_column(Boolean, default=False)  # /tatthongbao
    # Only mentors and officials give a name: what villagers see them as ("Lan – Đoàn thanh niên").
    display_name: Mapped[str | None] = mapped_column(String(60))
    # The conversation: where the person is (flow, lesson, step, quiz answers) and the choices last offered.
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Set when the platform says the person cannot be messaged (blocked the bot); cleared when they write.
    unreachable_since: Mapped[dt.datetime | None]
    # What /thongke counts of their progress, kept by database triggers (migration 0009), never written here:
    # completed lessons, of those with a mentor, their ids (",a,b,"), the milestones answered "Rồi" (",m,n,").
    # Deferred: only storage.stats reads them, so loading a person does not.
    lessons_done: Mapped[int] = mapped_column(Integer, server_default="0", deferred=True)
    lessons_assisted: Mapped[int] = mapped_column(Integer, server_default="0", deferred=True)
    lesson_ids: Mapped[str | None] = mapped_column(Text, deferred=True)
    milestone_ids: Mapped[str | None] = mapped_column(Text, deferred=True)


class ConsentRecord(Base):
    """Append-only proof of consent: who, which channel, when, to which text (version + hash), yes/no."""

    __tablename__ = "consent_records"
    __table_args__ = (Index("ix_consent_ref_purpose", "person_ref", "purpose", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_ref: Mapped[str] = mapped_column(String(160))
    channel: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(32))
    text_version: Mapped[str] = mapped_column(String(16))
    text_hash: Mapped[str] = mapped_column(String(64))
    granted: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class LessonProgress(Base):
    __tablename__ = "lesson_progress"
    __table_args__ = (Index("ix_progress_person_lesson", "person_id", "lesson_id", unique=True),
                      # The completed rows with what the statistics read of them (storage.stats, migration 0008).
                      Index("ix_progress_completed", "person_id", "lesson_id", "completed_at", "assisted",
                            sqlite_where=text("completed_at IS NOT NULL"),
                            postgresql_where=text("completed_at IS NOT NULL")))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    lesson_id: Mapped[str] = mapped_column(String(24), index=True)
    step_id: Mapped[str | None] = mapped_column(String(16))
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    best_score: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Completed with a mentor's help at a 1-1 meeting (counted apart in statistics).
    assisted: Mapped[bool] = mapped_column(Boolean, default=False)


class ProgressEvent(Base):
    """What happened, when: the raw material for statistics and the monthly report."""

    __tablename__ = "progress_events"
    __table_args__ = (Index("ix_events_at_kind", "at", "kind"),
                      # For the officials' statistics (milestones, activity by month).
                      Index("ix_events_kind_step", "kind", "step_id", "person_id", "value", "at"),
                      Index("ix_events_at_person", "at", "person_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    lesson_id: Mapped[str | None] = mapped_column(String(24))
    step_id: Mapped[str | None] = mapped_column(String(16))
    value: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class InboxKey(Base):
    """Idempotency keys of handled inbounds (hashed: no personal data), purged after some days."""

    __tablename__ = "inbox_keys"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class OutboxMessage(Base):
    """A reply or notice committed with the state change that caused it; deleted once delivered."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_ref: Mapped[str] = mapped_column(String(160), index=True)
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(300))
    broadcast_id: Mapped[int | None] = mapped_column(BigId, index=True)  # a broadcast's message, for its progress


class DataRequest(Base):
    """A person's data-rights request (copy, delete, withdraw) with its legal due date.

    The person is identified only by `storage.privacy.ref_hash`: an HMAC of their account under a salt kept outside
    the database, so a repeated request can be matched but the log cannot be turned back into accounts.
    """

    __tablename__ = "data_requests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ref_hash: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    due_at: Mapped[dt.datetime]
    done_at: Mapped[dt.datetime | None]


class AnonymousCount(Base):
    """What the statistics keep of people who deleted their data: counts, never an account or a person id.

    One row per (commune, figure, hamlet, age group, key, local month); a deletion adds 1 to each row the person's
    figures fall in (storage.anonymous). No id or time of its own (and no rowid on SQLite), so nothing in the table
    says which rows one deletion touched.
    """

    __tablename__ = "anonymous_counts"
    __table_args__ = ({"sqlite_with_rowid": False},)

    commune_id: Mapped[int] = mapped_column(ForeignKey("communes.id", ondelete="CASCADE"), primary_key=True,
                                            autoincrement=False)
    figure: Mapped[str] = mapped_column(String(16), primary_key=True)  # see storage.anonymous.FIGURES
    hamlet_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)  # 0: none or not counted
    age_group: Mapped[str] = mapped_column(String(16), primary_key=True)  # "": none or not counted
    key: Mapped[str] = mapped_column(String(24), primary_key=True)  # a lesson, track or milestone id, or ""
    month: Mapped[dt.datetime] = mapped_column(primary_key=True)  # the UTC instant the local month starts
    count: Mapped[int] = mapped_column(Integer, default=0)


class MediaFile(Base):
    """A generated image served at an unguessable URL for platforms that only take URLs (Zalo); expires."""

    __tablename__ = "media_files"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
