"""Daily rollups folded from the hourly ones, instead of upserted by every snapshot.

Until now each snapshot's statements were upserted into `statement_daily_rollups` as well as into
`statement_rollups`: 26 ms of the ~110 ms a 5,000-statement snapshot cost the metadata database, to
keep a row up to date that the same hour's rollup already held. Now a job folds the hourly rollups
of the hours that are over into the daily ones, and `statement_daily_folds` says, per monitored
database, before which hour that was done (`folded_before`): the daily rollups hold every hour
before it, the hourly rollups the hours from it on, and readers add the two (QueryRepository). A
snapshot stored later for an hour already folded (an agent's spool after an outage) adds to both,
as before. No row: nothing is folded yet (a database created since).

Every database existing now has its daily rollups complete up to now: its mark is set past the
latest hour stored (at least the next hour). A worker of the previous version still running during
the deployment keeps adding every snapshot to its day, past the mark too: a fold sums each day it
reaches afresh from the hourly rollups, so those additions are replaced, not counted twice.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0018"
down_revision: str | None = "0017"
branch_labels: str | None = None
depends_on: str | None = None

APP = "optischema_app"
TENANT = "nullif(current_setting('app.tenant_id', true), '')::uuid"
TABLE = "statement_daily_folds"
# The name the models' naming convention gives this foreign key (see 0017 for why it is spelled out).
FOREIGN_KEY = "fk_statement_daily_folds_tenant_id_database_id_monitore_6405"


def _current_schema() -> str:
    schema = op.get_bind().execute(sa.text("SELECT current_schema()")).scalar_one()
    if not isinstance(schema, str) or not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
        raise RuntimeError(f"the metadata schema must be a plain lower-case identifier, not {schema!r}")
    return schema


def _run(statement: str) -> None:
    op.execute(sa.text(statement))


def upgrade() -> None:
    schema = _current_schema()
    op.create_table(
        TABLE,
        sa.Column("tenant_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("database_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("folded_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("folded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "database_id", name=f"pk_{TABLE}"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "database_id"],
            ["monitored_databases.tenant_id", "monitored_databases.id"],
            name=FOREIGN_KEY,
            ondelete="CASCADE",
        ),
    )
    # The owner's FORCEd row-level security lifted for the copy and restored in this transaction;
    # before RLS on the new table, which would hide it from its owner.
    for table in ("monitored_databases", "statement_rollups"):
        _run(f"ALTER TABLE {schema}.{table} NO FORCE ROW LEVEL SECURITY")
    _run(f"""
        INSERT INTO {schema}.{TABLE} (tenant_id, database_id, folded_before, folded_at)
        SELECT d.tenant_id, d.id,
               greatest(date_trunc('hour', now(), 'UTC') + interval '1 hour',
                        (SELECT max(r.bucket) + interval '1 hour' FROM {schema}.statement_rollups r
                          WHERE r.tenant_id = d.tenant_id AND r.database_id = d.id)),
               now()
          FROM {schema}.monitored_databases d""")
    for table in ("monitored_databases", "statement_rollups"):
        _run(f"ALTER TABLE {schema}.{table} FORCE ROW LEVEL SECURITY")
    _run(f"ALTER TABLE {schema}.{TABLE} ENABLE ROW LEVEL SECURITY")
    _run(f"ALTER TABLE {schema}.{TABLE} FORCE ROW LEVEL SECURITY")
    _run(
        f"CREATE POLICY tenant_isolation ON {schema}.{TABLE} "
        f"USING (tenant_id = {TENANT}) WITH CHECK (tenant_id = {TENANT})"
    )
    _run(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {schema}.{TABLE} TO {APP}")


def downgrade() -> None:
    # The hours not folded yet go into the daily rollups first, as the old code kept them.
    schema = _current_schema()
    counters = ", ".join(_counters())
    sums = ", ".join(f"sum({name})" for name in _counters())
    adds = ", ".join(f"{name} = r.{name} + excluded.{name}" for name in _counters())
    day = "date_trunc('day', h.bucket, 'UTC')"
    for table in ("statement_rollups", "statement_daily_rollups", TABLE, "monitored_databases"):
        _run(f"ALTER TABLE {schema}.{table} NO FORCE ROW LEVEL SECURITY")
    _run(f"""
        INSERT INTO {schema}.statement_daily_rollups AS r
               (tenant_id, database_id, bucket, fingerprint, samples, {counters})
        SELECT h.tenant_id, h.database_id, {day}, h.fingerprint, sum(h.samples), {sums}
          FROM {schema}.statement_rollups h
          JOIN {schema}.monitored_databases d ON d.tenant_id = h.tenant_id AND d.id = h.database_id
          LEFT JOIN {schema}.{TABLE} f ON f.tenant_id = h.tenant_id AND f.database_id = h.database_id
         WHERE h.bucket >= coalesce(f.folded_before, '-infinity')
         GROUP BY h.tenant_id, h.database_id, {day}, h.fingerprint
        ON CONFLICT (tenant_id, database_id, bucket, fingerprint)
        DO UPDATE SET samples = r.samples + excluded.samples, {adds}""")
    for table in ("statement_rollups", "statement_daily_rollups", "monitored_databases"):
        _run(f"ALTER TABLE {schema}.{table} FORCE ROW LEVEL SECURITY")
    op.drop_table(TABLE)


def _counters() -> tuple[str, ...]:
    return (  # as in 0001
        "calls", "rows", "total_exec_time_ms", "total_plan_time_ms", "shared_blks_hit", "shared_blks_read",
        "shared_blks_dirtied", "shared_blks_written", "local_blks_hit", "local_blks_read", "temp_blks_read",
        "temp_blks_written", "blk_read_time_ms", "blk_write_time_ms", "wal_bytes",
    )  # fmt: skip
