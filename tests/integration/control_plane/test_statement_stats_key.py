"""The raw interval rows are keyed by time, then fingerprint (migration 0021), in every partition;
and one statement's intervals are still read by that key, a probe per snapshot, not by scanning a
range of every statement's rows (control_plane/queries/intervals.py).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.db.session import lookup_session
from control_plane.ingestion.statement_rows import COUNTER_FIELDS
from control_plane.models import StatementStat
from control_plane.queries.intervals import intervals_between
from deploy.local.throwaway_cluster import running_cluster
from migrations.runner import alembic_config, current_revision

KEY = ["tenant_id", "database_id", "collected_at", "fingerprint"]
# Every index of the series' parent and of each of its partitions, with its columns in order.
INDEXES = """
    SELECT c.relname, i.indisprimary,
           array_agg(a.attname ORDER BY k.ordinality)::text[]
      FROM pg_partition_tree('statement_stats') t
      JOIN pg_index i ON i.indrelid = t.relid
      JOIN pg_class c ON c.oid = t.relid
      CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ordinality)
      JOIN pg_attribute a ON a.attrelid = t.relid AND a.attnum = k.attnum
     GROUP BY c.relname, i.indexrelid, i.indisprimary
"""
SNAPSHOTS = 200
STATEMENTS = 400


@pytest.mark.asyncio
async def test_every_partition_is_keyed_by_time_then_fingerprint_and_has_no_other_index(
    metadata_engine: AsyncEngine, metadata_url: str
) -> None:
    async with lookup_session(metadata_engine) as session:
        await session.execute(
            text("SELECT optischema_ensure_statement_stats_partitions(:day, 2)"), {"day": date(2021, 5, 1)}
        )
    with psycopg.connect(metadata_url, autocommit=True) as conn:
        indexes = conn.execute(INDEXES).fetchall()
    tables = {table for table, _, _ in indexes}
    assert {"statement_stats_p20210501", "statement_stats_p20210502"} <= tables
    assert all(primary and columns == KEY for _, primary, columns in indexes), indexes
    assert len(indexes) == len(tables)  # the key alone: the time index went with 0021


def _index_scans(plan: dict[str, Any]) -> list[dict[str, Any]]:
    found = [plan] if plan.get("Relation Name", "").startswith("statement_stats") else []
    for child in plan.get("Plans", []):
        found += _index_scans(child)
    return found


def test_one_statements_intervals_are_probes_of_the_key_per_snapshot(metadata_url: str) -> None:
    """200 snapshots of 400 statements; one statement's intervals over the whole range are found by
    (collected_at, fingerprint) in the key, a snapshot at a time, never a scan of every row."""
    tenant_id, database_id = uuid.uuid4(), uuid.uuid4()
    start = datetime(2021, 6, 1, tzinfo=UTC)
    with psycopg.connect(metadata_url, autocommit=True) as conn:
        conn.execute("INSERT INTO tenants (id, name) VALUES (%s, 'acme')", [tenant_id])
        conn.execute(
            "INSERT INTO monitored_databases (tenant_id, id, name) VALUES (%s, %s, 'shop')",
            [tenant_id, database_id],
        )
        conn.execute("SELECT optischema_ensure_statement_stats_partitions(%s, 1)", (start.date(),))
        conn.execute(
            "INSERT INTO snapshots (tenant_id, database_id, snapshot_id, schema_version, agent_version,"
            " collected_at, interval_kind, interval_seconds, reset_detected, statement_count, calls,"
            " total_exec_time_ms, server, dropped)"
            " SELECT %s, %s, gen_random_uuid(), 1, 'test', %s + interval '30 seconds' * s, 'delta', 30,"
            " false, 0, 0, 0, '{}', '{}' FROM generate_series(0, %s) s",
            (tenant_id, database_id, start, SNAPSHOTS - 1),
        )
        conn.execute(
            "INSERT INTO statement_stats (tenant_id, database_id, collected_at, fingerprint, snapshot_id,"
            f" interval_seconds, {', '.join(COUNTER_FIELDS)})"
            " SELECT s.tenant_id, s.database_id, s.collected_at, lpad(to_hex(f), 16, '0'), s.snapshot_id, 30,"
            f" {', '.join('1' for _ in COUNTER_FIELDS)}"
            " FROM snapshots s, generate_series(1, %s) f WHERE s.tenant_id = %s",
            (STATEMENTS, tenant_id),
        )
        conn.execute("ANALYZE statement_stats, snapshots")
        query = (
            select(StatementStat.collected_at, StatementStat.calls)
            .where(
                *intervals_between(tenant_id, database_id, start, start + timedelta(hours=2)),
                StatementStat.fingerprint == f"{7:016x}",
            )
            .compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
        )
        assert len(conn.execute(str(query)).fetchall()) == SNAPSHOTS
        conn.execute("SET enable_seqscan = off")  # the plan for a table too small to be worth an index
        explained = conn.execute(f"EXPLAIN (FORMAT JSON) {query}").fetchone()
    assert explained is not None
    plan = explained[0] if isinstance(explained[0], list) else json.loads(explained[0])
    scans = _index_scans(plan[0]["Plan"])
    assert scans, plan
    for scan in scans:
        condition = scan.get("Index Cond", "")
        assert "fingerprint" in condition and "collected_at" in condition, scan


@pytest.mark.parametrize(("locks_per_transaction", "reached"), [("64", "0020"), ("256", "0021")])
def test_rekeying_refuses_to_take_more_than_half_the_servers_lock_table(
    locks_per_transaction: str, reached: str
) -> None:
    """Every partition stays locked until the migrations commit: with 62 days of partitions ahead
    (~440 relations) and a lock table of 64 x 10, re-keying stops before it alters anything and says
    what to raise; with 256 x 10 it goes on."""
    settings = {"max_connections": "10", "max_locks_per_transaction": locks_per_transaction}
    with running_cluster(settings) as cluster:
        url = cluster.create_database("optischema_rekey")
        command.upgrade(alembic_config(url), "0020")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SELECT optischema_ensure_statement_stats_partitions(current_date, 62)")
        if reached == "0020":
            with pytest.raises(RuntimeError, match=r"revision 0021 .* at least \d+"):
                command.upgrade(alembic_config(url), "0021")
        else:
            command.upgrade(alembic_config(url), "0021")
        assert current_revision(url) == reached
