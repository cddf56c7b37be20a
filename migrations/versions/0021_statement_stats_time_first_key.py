"""The raw interval rows keyed by time first: (tenant, database, collected_at, fingerprint).

Under the fingerprint-first key a snapshot's 5,000 rows went to 5,000 leaf pages scattered over
the index (one range per statement), and writing them was most of what storing a snapshot cost
PostgreSQL: 27 ms a snapshot with that key and the time index beside it, 9 ms with this key alone,
6 ms with no index at all (benchmarks/statement_stats_layout.py, 3.6 million rows, as corrected on
2026-12-06: it first measured 38, 19 and 17 ms, drawing a snapshot_id per row). Measured end
to end (benchmarks/ingestion_store_cost.py), PostgreSQL's CPU per stored snapshot went from 61 to
46 ms in batches of 4 and from 76 to 68 ms one at a time, with an index of a few snapshots; the
larger the index, the larger the saving (at scale the scattered leaf pages are read from disk).

This key serves a database's rows over a time range, so the `(tenant_id, database_id,
collected_at)` index is dropped. One statement's intervals are read a snapshot at a time, a probe of
the key each (control_plane/queries/intervals.py): one statement over 6 hours 2 -> 6 ms, 20
statements' sub-hour heatmap cells over 6 hours 9 -> 31 ms.

Re-keying rebuilds the primary key of every partition, holding each one's lock meanwhile: run it in
a quiet hour. Like 0019, it counts the locks it will hold first and refuses to take more than half
of the server's lock table.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

from migrations.lock_budget import check_lock_table

revision = "0021"
down_revision: str | None = "0020"
branch_labels: str | None = None
depends_on: str | None = None

TIME_INDEX = "ix_statement_stats_tenant_id_database_id_collected_at"


def _check_lock_table() -> None:
    check_lock_table("0021", ["statement_stats"], "statement_stats, its partitions and their indexes")


def _key(*columns: str) -> None:
    op.execute("ALTER TABLE statement_stats DROP CONSTRAINT pk_statement_stats")
    op.execute(
        f"ALTER TABLE statement_stats ADD CONSTRAINT pk_statement_stats PRIMARY KEY ({', '.join(columns)})"
    )


def upgrade() -> None:
    _check_lock_table()
    op.drop_index(TIME_INDEX, "statement_stats")
    _key("tenant_id", "database_id", "collected_at", "fingerprint")


def downgrade() -> None:
    _check_lock_table()
    _key("tenant_id", "database_id", "fingerprint", "collected_at")
    op.create_index(TIME_INDEX, "statement_stats", ["tenant_id", "database_id", "collected_at"])
