"""statistics indexes

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 06:14:38.060090
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    with op.batch_alter_table("progress_events", schema=None) as batch_op:
        batch_op.alter_column(
            "kind", existing_type=sa.VARCHAR(length=24), type_=sa.String(length=32), existing_nullable=False
        )
        batch_op.create_index("ix_events_at_person", ["at", "person_id"], unique=False)
        batch_op.create_index("ix_events_kind_step", ["kind", "step_id", "person_id", "value", "at"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("progress_events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_kind_step")
        batch_op.drop_index("ix_events_at_person")
        batch_op.alter_column(
            "kind", existing_type=sa.String(length=32), type_=sa.VARCHAR(length=24), existing_nullable=False
        )
