"""Recommendations another applied one made pointless: status `superseded`, and `superseded_by`.

When a `create_index` recommendation is applied, the still-`proposed` index recommendations on the
same table whose key columns are a prefix of its keys (or the same keys) would build a redundant
index; they move to `superseded` in the same transaction, pointing at the applied one. No new table,
so row-level security and grants are unchanged (the app role's table grants cover the new column).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

STATUSES_BEFORE = ("proposed", "approved", "applying", "applied", "failed", "rejected", "rolled_back")
STATUSES = (*STATUSES_BEFORE, "superseded")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _status_check(statuses: tuple[str, ...]) -> None:
    # 0003 created the check inside create_table, where the naming convention may have prefixed its
    # name again: found by what it checks rather than by a name guessed here.
    found = op.get_bind().scalars(
        sa.text(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'recommendations'::regclass "
            "AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%status%rolled_back%'"
        )
    )
    for name in list(found):
        op.execute(sa.text(f'ALTER TABLE recommendations DROP CONSTRAINT "{name}"'))
    op.execute(
        sa.text(
            "ALTER TABLE recommendations ADD CONSTRAINT ck_recommendations_status "
            f"CHECK ({_one_of('status', statuses)})"
        )
    )


def upgrade() -> None:
    op.add_column("recommendations", sa.Column("superseded_by", postgresql.UUID(as_uuid=True), nullable=True))
    _status_check(STATUSES)


def downgrade() -> None:
    op.execute(sa.text("UPDATE recommendations SET status = 'proposed' WHERE status = 'superseded'"))
    _status_check(STATUSES_BEFORE)
    op.drop_column("recommendations", "superseded_by")
