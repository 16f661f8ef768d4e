"""statistics covering indexes

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 10:30:00.000000

Indexes that /thongke and /baocao read instead of the tables (issue 10; storage.stats):
- `ix_people_learners`: the commune's learners by hamlet and age group with their visit and registration times,
  so "registered", "active", "new" and "by age" are counted from the index alone;
- `ix_people_mentors`: the commune's mentors and whether they are paused (was a walk over every person);
- `ix_progress_completed`: the completed lesson rows only (a partial index, on SQLite and PostgreSQL alike), in
  person order, with what the statistics read of them, so the per-person aggregate is one walk over this index.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COMPLETED = "completed_at IS NOT NULL"


def upgrade() -> None:
    op.create_index("ix_people_learners", "people",
                    ["commune_id", "is_official", "hamlet_id", "age_group", "last_seen_at", "created_at"])
    op.create_index("ix_people_mentors", "people", ["commune_id", "is_mentor", "mentor_paused"])
    op.create_index("ix_progress_completed", "lesson_progress", ["person_id", "lesson_id", "completed_at", "assisted"],
                    sqlite_where=sa.text(COMPLETED), postgresql_where=sa.text(COMPLETED))


def downgrade() -> None:
    op.drop_index("ix_progress_completed", table_name="lesson_progress")
    op.drop_index("ix_people_mentors", table_name="people")
    op.drop_index("ix_people_learners", table_name="people")
