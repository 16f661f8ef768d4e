"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26 04:54:27.843940
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "communes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "consent_records",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("person_ref", sa.String(length=160), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("text_version", sa.String(length=16), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.create_index("ix_consent_ref_purpose", ["person_ref", "purpose", "id"], unique=False)

    op.create_table(
        "data_requests",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ref_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("data_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_data_requests_ref_hash"), ["ref_hash"], unique=False)

    op.create_table(
        "inbox_keys",
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_hash"),
    )
    with op.batch_alter_table("inbox_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inbox_keys_received_at"), ["received_at"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("person_ref", sa.String(length=160), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_due", ["next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_person_ref"), ["person_ref"], unique=False)

    op.create_table(
        "hamlets",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("commune_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["commune_id"], ["communes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("hamlets", schema=None) as batch_op:
        batch_op.create_index("ix_hamlets_commune_name", ["commune_id", "name"], unique=True)

    op.create_table(
        "people",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ref", sa.String(length=160), nullable=False),
        sa.Column("commune_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("hamlet_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("age_group", sa.String(length=16), nullable=True),
        sa.Column("guardian_confirmed", sa.Boolean(), nullable=False),
        sa.Column("is_mentor", sa.Boolean(), nullable=False),
        sa.Column("is_official", sa.Boolean(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["commune_id"],
            ["communes.id"],
        ),
        sa.ForeignKeyConstraint(
            ["hamlet_id"],
            ["hamlets.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ref"),
    )
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_people_commune_id"), ["commune_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_people_hamlet_id"), ["hamlet_id"], unique=False)

    op.create_table(
        "lesson_progress",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("lesson_id", sa.String(length=24), nullable=False),
        sa.Column("step_id", sa.String(length=16), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("best_score", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("lesson_progress", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lesson_progress_completed_at"), ["completed_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_lesson_progress_lesson_id"), ["lesson_id"], unique=False)
        batch_op.create_index("ix_progress_person_lesson", ["person_id", "lesson_id"], unique=True)

    op.create_table(
        "progress_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("lesson_id", sa.String(length=24), nullable=True),
        sa.Column("step_id", sa.String(length=16), nullable=True),
        sa.Column("value", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("progress_events", schema=None) as batch_op:
        batch_op.create_index("ix_events_at_kind", ["at", "kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_progress_events_person_id"), ["person_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("progress_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_progress_events_person_id"))
        batch_op.drop_index("ix_events_at_kind")

    op.drop_table("progress_events")
    with op.batch_alter_table("lesson_progress", schema=None) as batch_op:
        batch_op.drop_index("ix_progress_person_lesson")
        batch_op.drop_index(batch_op.f("ix_lesson_progress_lesson_id"))
        batch_op.drop_index(batch_op.f("ix_lesson_progress_completed_at"))

    op.drop_table("lesson_progress")
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_people_hamlet_id"))
        batch_op.drop_index(batch_op.f("ix_people_commune_id"))

    op.drop_table("people")
    with op.batch_alter_table("hamlets", schema=None) as batch_op:
        batch_op.drop_index("ix_hamlets_commune_name")

    op.drop_table("hamlets")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_person_ref"))
        batch_op.drop_index("ix_outbox_due")

    op.drop_table("outbox")
    with op.batch_alter_table("inbox_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbox_keys_received_at"))

    op.drop_table("inbox_keys")
    with op.batch_alter_table("data_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_requests_ref_hash"))

    op.drop_table("data_requests")
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_ref_purpose")

    op.drop_table("consent_records")
    op.drop_table("communes")
