"""Each snapshot's load: the sums of its statements' calls and execution time, on its `snapshots` row.

The overview draws a database's load over time. Summed from the raw or the hourly rows, 30 days of
a 10,000-statement database is ~3 million hourly rollup rows to add up per request (seconds); one
row per snapshot is 8,640 for 30 days at a 5-minute interval, read by the (tenant, database,
collected_at) index in a few milliseconds. Ingestion writes the two sums with the snapshot's row.

Existing snapshots get the sums of their stored `statement_stats` rows (0 where a partition has
already been dropped: the rows they would be summed from are gone). The migrating role owns
`statement_stats` but is subject to its FORCEd row-level security, so FORCE is lifted for the read
and restored right after, in this same transaction (as 0004 does). No new table: the runtime role's
grants on `snapshots` cover the new columns.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # NOT NULL DEFAULT 0 adds no row versions (PostgreSQL 11+); the backfill then rewrites each once.
    op.add_column("snapshots", sa.Column("calls", sa.BigInteger(), nullable=False, server_default="0"))
    op.add_column(
        "snapshots", sa.Column("total_exec_time_ms", sa.Float(), nullable=False, server_default="0")
    )
    op.execute(sa.text("ALTER TABLE statement_stats NO FORCE ROW LEVEL SECURITY"))
    op.execute(sa.text("ALTER TABLE snapshots NO FORCE ROW LEVEL SECURITY"))
    op.execute(
        sa.text("""
        UPDATE snapshots s SET calls = t.calls, total_exec_time_ms = t.total_exec_time_ms
          FROM (SELECT tenant_id, database_id, snapshot_id,
                       sum(calls) AS calls, sum(total_exec_time_ms) AS total_exec_time_ms
                  FROM statement_stats GROUP BY tenant_id, database_id, snapshot_id) t
         WHERE s.tenant_id = t.tenant_id AND s.database_id = t.database_id AND s.snapshot_id = t.snapshot_id""")
    )
    op.execute(sa.text("ALTER TABLE snapshots FORCE ROW LEVEL SECURITY"))
    op.execute(sa.text("ALTER TABLE statement_stats FORCE ROW LEVEL SECURITY"))


def downgrade() -> None:
    op.drop_column("snapshots", "total_exec_time_ms")
    op.drop_column("snapshots", "calls")
