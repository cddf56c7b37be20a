"""Hourly rollups of the statement time series, so top queries over a range reads few rows.

`statement_rollups` holds, per (tenant, database, UTC hour, fingerprint), the sum of the
`statement_stats` rows of that hour and how many there were. Ingestion adds to it in the transaction
that inserts the raw rows. It is partitioned by day like `statement_stats`, and kept exactly as
long: the two partition functions of 0002 are replaced by versions that create and drop both
tables' partitions for the same days (same names, signatures, owner and grants, same return value:
the number of days). A rollup partition gets a lower fillfactor: its rows are updated by every
snapshot of their hour, and free room in the page keeps those updates HOT.

`statement_stats` gets an index by (tenant, database, collected_at), for the raw rows of the edge
hours a range cuts through. Rows already in `statement_stats` are rolled up here. The migrating role owns both tables but is
subject to their FORCEd row-level security, so FORCE is lifted for the copy and restored right
after, in this same transaction.

Revision ID: 0004
Revises: 0003
Create Date: 2025-02-04
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

APP = "optischema_app"
TENANT = "nullif(current_setting('app.tenant_id', true), '')::uuid"
DEFINER = "SECURITY DEFINER SET search_path = pg_catalog, pg_temp"
MIN_RETENTION_DAYS = 7  # as in 0002
MAX_DAYS_AHEAD = 62  # as in 0002
ROLLUP_FILLFACTOR = 50
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
# Partitioned table -> storage options of its partitions.
SERIES = {"statement_stats": "", "statement_rollups": f" WITH (fillfactor = {ROLLUP_FILLFACTOR})"}


def _partition_functions(schema: str, tables: dict[str, str], tenant: str = TENANT) -> dict[str, str]:
    """Signature -> CREATE OR REPLACE FUNCTION, for the daily partitions of every table in `tables`,
    each partition's policy comparing its tenant_id with `tenant` (0020 reads it once per statement)."""
    utc_today = "(now() AT TIME ZONE 'UTC')::date"
    lock = "PERFORM pg_advisory_xact_lock(hashtextextended('optischema.statement_stats.partitions', 0));"
    partition = f"format('{schema}.%I', v_name)"
    bound = "to_char({day}, 'YYYY-MM-DD') || ' 00:00:00+00'"
    create = "".join(
        f"""
                    v_name := '{table}_p' || to_char(v_day, 'YYYYMMDD');
                    IF to_regclass({partition}) IS NULL THEN
                        {lock}
                        IF to_regclass({partition}) IS NULL THEN  -- not created while we waited
                            EXECUTE format('CREATE TABLE %s PARTITION OF {schema}.{table} FOR VALUES FROM (%L) TO (%L){options}',
                                           {partition}, {bound.format(day="v_day")}, {bound.format(day="v_day + 1")});
                            EXECUTE format('REVOKE ALL ON TABLE %s FROM PUBLIC', {partition});
                            EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', {partition});
                            EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', {partition});
                            EXECUTE format('CREATE POLICY tenant_isolation ON %s USING (tenant_id = %s) WITH CHECK (tenant_id = %s)',
                                           {partition}, $t${tenant}$t$, $t${tenant}$t$);
                            v_new := true;
                        END IF;
                    END IF;"""
        for table, options in tables.items()
    )
    parents = ", ".join(f"'{schema}.{table}'::regclass" for table in tables)
    names = "|".join(tables)
    return {
        "optischema_ensure_statement_stats_partitions(date, integer)": f"""
            CREATE OR REPLACE FUNCTION {schema}.optischema_ensure_statement_stats_partitions(p_from date, p_days integer)
            RETURNS integer LANGUAGE plpgsql VOLATILE {DEFINER} AS $$
            DECLARE v_day date; v_name text; v_new boolean; v_created integer := 0;
            BEGIN
                IF p_from IS NULL OR p_days IS NULL OR p_days < 1 OR p_from + p_days > {utc_today} + {MAX_DAYS_AHEAD} THEN
                    RAISE EXCEPTION 'partitions are created for 1 or more days up to {MAX_DAYS_AHEAD} days ahead'
                        USING ERRCODE = '22023';
                END IF;
                FOR v_day IN SELECT d::date FROM generate_series(p_from, p_from + p_days - 1, interval '1 day') d LOOP
                    -- The common case takes no lock: creating a partition locks the whole table.
                    v_new := false;{create}
                    IF v_new THEN
                        v_created := v_created + 1;
                    END IF;
                END LOOP;
                RETURN v_created;
            END $$""",
        "optischema_drop_statement_stats_partitions(date)": f"""
            CREATE OR REPLACE FUNCTION {schema}.optischema_drop_statement_stats_partitions(p_before date)
            RETURNS integer LANGUAGE plpgsql VOLATILE {DEFINER} AS $$
            DECLARE v_name text; v_day date; v_last date; v_dropped integer := 0;
            BEGIN
                IF p_before IS NULL OR p_before > {utc_today} - {MIN_RETENTION_DAYS} THEN
                    RAISE EXCEPTION 'partitions of the last {MIN_RETENTION_DAYS} days are never dropped'
                        USING ERRCODE = '22023';
                END IF;
                {lock}
                FOR v_name, v_day IN
                    SELECT c.relname, to_date(right(c.relname, 8), 'YYYYMMDD') AS day
                      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                     WHERE i.inhparent IN ({parents})
                       AND c.relname ~ '^({names})_p[0-9]{{8}}$'
                       AND to_date(right(c.relname, 8), 'YYYYMMDD') < p_before
                     ORDER BY day, c.relname
                LOOP
                    EXECUTE format('DROP TABLE %s', {partition});
                    IF v_last IS DISTINCT FROM v_day THEN
                        v_dropped := v_dropped + 1;
                        v_last := v_day;
                    END IF;
                END LOOP;
                RETURN v_dropped;
            END $$""",
    }


def _current_schema() -> str:
    schema = op.get_bind().execute(sa.text("SELECT current_schema()")).scalar_one()
    if not isinstance(schema, str) or not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
        raise RuntimeError(f"the metadata schema must be a plain lower-case identifier, not {schema!r}")
    return schema


def _run(statement: str) -> None:
    # text() escapes format()'s %I and %L for the driver; no ":name" in these bodies is a bind parameter.
    op.execute(sa.text(statement))


def _create_table() -> None:
    op.create_table(
        "statement_rollups",
        sa.Column("tenant_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("database_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        *(
            sa.Column(name, sa.Float() if name.endswith("_ms") else sa.BigInteger(), nullable=False)
            for name in COUNTERS
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "database_id", "bucket", "fingerprint", name="pk_statement_rollups"
        ),
        postgresql_partition_by="RANGE (bucket)",
    )


def _roll_up_existing_rows(schema: str) -> None:
    _run(f"""
        DO $$
        DECLARE v_day date;
        BEGIN
            FOR v_day IN
                SELECT to_date(right(c.relname, 8), 'YYYYMMDD')
                  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                 WHERE i.inhparent = '{schema}.statement_stats'::regclass
                   AND c.relname ~ '^statement_stats_p[0-9]{{8}}$'
            LOOP
                PERFORM {schema}.optischema_ensure_statement_stats_partitions(v_day, 1);
            END LOOP;
        END $$""")
    counters = ", ".join(COUNTERS)
    sums = ", ".join(f"sum({name})" for name in COUNTERS)
    hour = "date_trunc('hour', collected_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    _run(f"ALTER TABLE {schema}.statement_stats NO FORCE ROW LEVEL SECURITY")
    _run(f"""
        INSERT INTO {schema}.statement_rollups (tenant_id, database_id, bucket, fingerprint, samples, {counters})
        SELECT tenant_id, database_id, {hour}, fingerprint, count(*), {sums}
          FROM {schema}.statement_stats
         GROUP BY tenant_id, database_id, {hour}, fingerprint""")
    _run(f"ALTER TABLE {schema}.statement_stats FORCE ROW LEVEL SECURITY")


def upgrade() -> None:
    schema = _current_schema()
    _create_table()
    # The raw rows of a database over a time range: the edge hours a range cuts through. The
    # primary key leads with the fingerprint, so without this such a read scans the whole day.
    op.create_index(
        "ix_statement_stats_tenant_id_database_id_collected_at",
        "statement_stats",
        ["tenant_id", "database_id", "collected_at"],
    )
    for create in _partition_functions(schema, SERIES).values():
        _run(create)  # CREATE OR REPLACE keeps the owner and the EXECUTE grants of 0002
    _roll_up_existing_rows(schema)  # before RLS on the new table, which would hide it from its owner
    _run(f"ALTER TABLE {schema}.statement_rollups ENABLE ROW LEVEL SECURITY")
    _run(f"ALTER TABLE {schema}.statement_rollups FORCE ROW LEVEL SECURITY")
    _run(
        f"CREATE POLICY tenant_isolation ON {schema}.statement_rollups "
        f"USING (tenant_id = {TENANT}) WITH CHECK (tenant_id = {TENANT})"
    )
    _run(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {schema}.statement_rollups TO {APP}")


def downgrade() -> None:
    schema = _current_schema()
    for create in _partition_functions(schema, {"statement_stats": ""}).values():
        _run(create)
    op.drop_table("statement_rollups")  # and its partitions
    op.drop_index("ix_statement_stats_tenant_id_database_id_collected_at", "statement_stats")
