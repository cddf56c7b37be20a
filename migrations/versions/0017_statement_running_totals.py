"""Running totals of the statement time series: prefix sums of the daily rollups, for long ranges.

`statement_running_totals` holds, per (tenant, database, UTC day, fingerprint), the statement's
counters added up over every day from the first one computed through that day, with a row for every
statement already seen (carried forward). Top queries over 30 days of a 10,000-statement database
then read two days' rows (20,000) instead of 30 days of daily rollups (300,000: 0.3-0.45 s to add up
on 2 cores). `statement_running_total_state` says which days exist and when they were computed; a
snapshot stored later for one of them makes them stale until the job recomputes them. Both belong
to their monitored database (cascade) and are tenant-isolated like every other table. The job
finds its tenants through a new lookup function, which reads nothing but `monitored_databases`'
tenant ids.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0017"
down_revision: str | None = "0016"
branch_labels: str | None = None
depends_on: str | None = None

APP = "optischema_app"
LOOKUP = "optischema_lookup"
TENANT = "nullif(current_setting('app.tenant_id', true), '')::uuid"
DEFINER = "SECURITY DEFINER SET search_path = pg_catalog, pg_temp"
TOTALS = "statement_running_totals"
STATE = "statement_running_total_state"
COUNTERS = (  # as in 0001
    "calls",
    "rows",
    "total_exec_time_ms",
    "total_plan_time_ms",
    "shared_blks_hit",
    "shared_blks_read",
    "shared_blks_dirtied",
    "shared_blks_written",
    "local_blks_hit",
    "local_blks_read",
    "temp_blks_read",
    "temp_blks_written",
    "blk_read_time_ms",
    "blk_write_time_ms",
    "wal_bytes",
)
FUNCTION = "optischema_tenants_with_databases()"


def _current_schema() -> str:
    schema = op.get_bind().execute(sa.text("SELECT current_schema()")).scalar_one()
    if not isinstance(schema, str) or not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
        raise RuntimeError(f"the metadata schema must be a plain lower-case identifier, not {schema!r}")
    return schema


def _run(statement: str) -> None:
    op.execute(sa.text(statement))


# The names the models' naming convention gives these foreign keys: theirs are over PostgreSQL's 63
# characters, which SQLAlchemy shortens with a hash of the whole name.
FOREIGN_KEYS = {
    TOTALS: "fk_statement_running_totals_tenant_id_database_id_monit_c190",
    STATE: "fk_statement_running_total_state_tenant_id_database_id__d495",
}


def _database_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", "database_id"],
        ["monitored_databases.tenant_id", "monitored_databases.id"],
        name=FOREIGN_KEYS[table],
        ondelete="CASCADE",
    )


def upgrade() -> None:
    schema = _current_schema()
    op.create_table(
        TOTALS,
        sa.Column("tenant_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("database_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("day", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        *(
            sa.Column(name, sa.Float() if name.endswith("_ms") else sa.BigInteger(), nullable=False)
            for name in COUNTERS
        ),
        sa.PrimaryKeyConstraint("tenant_id", "database_id", "day", "fingerprint", name=f"pk_{TOTALS}"),
        _database_fk(TOTALS),
    )
    op.create_table(
        STATE,
        sa.Column("tenant_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("database_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("first_day", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kept_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("through_day", sa.DateTime(timezone=True), nullable=False),
        sa.Column("complete_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "database_id", name=f"pk_{STATE}"),
        _database_fk(STATE),
    )
    for table in (TOTALS, STATE):
        _run(f"ALTER TABLE {schema}.{table} ENABLE ROW LEVEL SECURITY")
        _run(f"ALTER TABLE {schema}.{table} FORCE ROW LEVEL SECURITY")
        _run(
            f"CREATE POLICY tenant_isolation ON {schema}.{table} "
            f"USING (tenant_id = {TENANT}) WITH CHECK (tenant_id = {TENANT})"
        )
        _run(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {schema}.{table} TO {APP}")
    # The job's list of tenants: ids only, read by the lookup role through its own policy.
    _run(
        f"CREATE POLICY lookup_read ON {schema}.monitored_databases FOR SELECT TO {LOOKUP} "
        f"USING (current_user = '{LOOKUP}')"
    )
    _run(f"GRANT SELECT (tenant_id) ON {schema}.monitored_databases TO {LOOKUP}")
    _run(f"""
        CREATE FUNCTION {schema}.{FUNCTION}
        RETURNS SETOF uuid LANGUAGE sql STABLE {DEFINER} AS $$
            SELECT DISTINCT d.tenant_id FROM {schema}.monitored_databases d
        $$""")
    _run(f"REVOKE ALL ON FUNCTION {schema}.{FUNCTION} FROM PUBLIC")
    _run(f"GRANT EXECUTE ON FUNCTION {schema}.{FUNCTION} TO {APP}")
    # A new owner needs CREATE on the schema at the moment of the change, and not a moment longer.
    _run(f"GRANT CREATE ON SCHEMA {schema} TO {LOOKUP}")
    _run(f"ALTER FUNCTION {schema}.{FUNCTION} OWNER TO {LOOKUP}")
    _run(f"REVOKE CREATE ON SCHEMA {schema} FROM {LOOKUP}")


def downgrade() -> None:
    schema = _current_schema()
    _run(f"DROP FUNCTION {schema}.{FUNCTION}")
    _run(f"DROP POLICY lookup_read ON {schema}.monitored_databases")
    _run(f"REVOKE SELECT (tenant_id) ON {schema}.monitored_databases FROM {LOOKUP}")
    op.drop_table(STATE)
    op.drop_table(TOTALS)
