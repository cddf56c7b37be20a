"""Daily rollups of the statement time series, for ranges of days.

`statement_daily_rollups` holds, per (tenant, database, UTC day, fingerprint), the sum of the
`statement_stats` rows of that day and how many there were: what `statement_rollups` (0004) holds
per hour. A 10,000-statement database has ~3,800 statements in an hour's rollups and ~10,000 in a
day's: 30 days are ~2.7 million hourly rows (1.5 GB, seconds to add up) and ~300,000 daily ones;
one statement's 30 days are 30 rows instead of 720 read from 30 partitions. Ingestion adds to it in
the statement that inserts the raw and hourly rows.

Partitioned by day like the other two, and kept exactly as long: the partition functions are
replaced by versions that create and drop all three tables' partitions for the same days (the
function text is 0004's, generated for three tables: same names, signatures, owner, grants and
return value). Rows are updated by every snapshot of their day, so partitions get 0004's lower
fillfactor to keep those updates HOT. Rows already in `statement_rollups` are summed up here, with
the owner's FORCEd row-level security lifted for the copy and restored in this same transaction.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

from types import ModuleType

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.revision_files import load_revision

revision = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None

APP = "optischema_app"
TENANT = "nullif(current_setting('app.tenant_id', true), '')::uuid"
TABLE = "statement_daily_rollups"


def _revision_0004() -> ModuleType:
    """0004, whose partition functions are generated here."""
    return load_revision("0004_statement_rollups.py")


def upgrade() -> None:
    r0004 = _revision_0004()
    schema = r0004._current_schema()
    op.create_table(
        TABLE,
        sa.Column("tenant_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("database_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        *(
            sa.Column(name, sa.Float() if name.endswith("_ms") else sa.BigInteger(), nullable=False)
            for name in r0004.COUNTERS
        ),
        sa.PrimaryKeyConstraint("tenant_id", "database_id", "bucket", "fingerprint", name=f"pk_{TABLE}"),
        postgresql_partition_by="RANGE (bucket)",
    )
    series = {**r0004.SERIES, TABLE: r0004.SERIES["statement_rollups"]}
    for create in r0004._partition_functions(schema, series).values():
        r0004._run(create)
    # A partition for every day the hourly rollups have, then their sums; before RLS on the new
    # table, which would hide it from its owner.
    r0004._run(f"""
        DO $$
        DECLARE v_day date;
        BEGIN
            FOR v_day IN
                SELECT to_date(right(c.relname, 8), 'YYYYMMDD')
                  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                 WHERE i.inhparent = '{schema}.statement_rollups'::regclass
                   AND c.relname ~ '^statement_rollups_p[0-9]{{8}}$'
            LOOP
                PERFORM {schema}.optischema_ensure_statement_stats_partitions(v_day, 1);
            END LOOP;
        END $$""")
    counters = ", ".join(r0004.COUNTERS)
    sums = ", ".join(f"sum({name})" for name in r0004.COUNTERS)
    day = "date_trunc('day', bucket AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    r0004._run(f"ALTER TABLE {schema}.statement_rollups NO FORCE ROW LEVEL SECURITY")
    r0004._run(f"""
        INSERT INTO {schema}.{TABLE} (tenant_id, database_id, bucket, fingerprint, samples, {counters})
        SELECT tenant_id, database_id, {day}, fingerprint, sum(samples), {sums}
          FROM {schema}.statement_rollups
         GROUP BY tenant_id, database_id, {day}, fingerprint""")
    r0004._run(f"ALTER TABLE {schema}.statement_rollups FORCE ROW LEVEL SECURITY")
    r0004._run(f"ALTER TABLE {schema}.{TABLE} ENABLE ROW LEVEL SECURITY")
    r0004._run(f"ALTER TABLE {schema}.{TABLE} FORCE ROW LEVEL SECURITY")
    r0004._run(
        f"CREATE POLICY tenant_isolation ON {schema}.{TABLE} "
        f"USING (tenant_id = {TENANT}) WITH CHECK (tenant_id = {TENANT})"
    )
    r0004._run(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {schema}.{TABLE} TO {APP}")


def downgrade() -> None:
    r0004 = _revision_0004()
    for create in r0004._partition_functions(r0004._current_schema(), r0004.SERIES).values():
        r0004._run(create)
    op.drop_table(TABLE)  # and its partitions
