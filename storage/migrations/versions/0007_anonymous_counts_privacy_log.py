"""anonymous counts; salted privacy log; nothing kept of unconfirmed children

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 09:00:00.000000

- `anonymous_counts`: what statistics keep of people who deleted their data (storage.anonymous).
- `data_requests.ref_hash` was a plain SHA-256 of the account, which can be reversed by trying account ids; it is
  now an HMAC under a salt the database does not hold. Earlier rows cannot be re-keyed without the accounts, so
  their hash is blanked (storage.privacy.LEGACY_HASH): they still prove when each request was answered.
- People who said they are under 16 but whose parent has not confirmed yet lose their hamlet and age group (and so
  do their help requests); they are asked again, and nothing is stored until a parent confirms.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNCONFIRMED = "SELECT id FROM people WHERE age_group = 'u16' AND NOT guardian_confirmed"


def upgrade() -> None:
    op.create_table(
        "anonymous_counts",
        sa.Column("commune_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False,
                  nullable=False),
        sa.Column("figure", sa.String(length=16), nullable=False),
        sa.Column("hamlet_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False,
                  nullable=False),
        sa.Column("age_group", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=24), nullable=False),
        sa.Column("month", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["commune_id"], ["communes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("commune_id", "figure", "hamlet_id", "age_group", "key", "month"),
        sqlite_with_rowid=False,
    )
    op.execute("UPDATE data_requests SET ref_hash = ''")
    op.execute(f"UPDATE escalations SET hamlet_id = NULL, age_group = NULL WHERE person_id IN ({UNCONFIRMED})")
    op.execute(f"UPDATE people SET hamlet_id = NULL, age_group = NULL WHERE id IN ({UNCONFIRMED})")


def downgrade() -> None:
    op.drop_table("anonymous_counts")
