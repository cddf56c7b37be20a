"""Each snapshot's load on its row (0010): filled by the upgrade from the rows already stored."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import psycopg
from alembic import command

from migrations.runner import alembic_config, upgrade_to_head

COUNTERS = ("calls", "rows", "total_exec_time_ms", "total_plan_time_ms", "shared_blks_hit", "shared_blks_read",
            "shared_blks_dirtied", "shared_blks_written", "local_blks_hit", "local_blks_read", "temp_blks_read",
            "temp_blks_written", "blk_read_time_ms", "blk_write_time_ms", "wal_bytes")  # fmt: skip
AT = datetime(2020, 1, 1, 10, 5, tzinfo=UTC)


def test_the_upgrade_sums_each_stored_snapshot(owner_database: tuple[str, str]) -> None:
    owner_url, superuser_url = owner_database
    command.upgrade(alembic_config(owner_url), "0009")
    tenant, database = uuid.uuid4(), uuid.uuid4()
    with_rows, without_rows = uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(superuser_url, autocommit=True) as conn:
        conn.execute("INSERT INTO tenants (id, name) VALUES (%s, 'acme')", [tenant])
        conn.execute(
            "INSERT INTO monitored_databases (tenant_id, id, name) VALUES (%s, %s, 'shop')",
            [tenant, database],
        )
        conn.execute("SELECT optischema_ensure_statement_stats_partitions('2020-01-01', 1)")
        for snapshot in (with_rows, without_rows):  # the second one's partition has been dropped, say
            conn.execute(
                "INSERT INTO snapshots (tenant_id, database_id, snapshot_id, schema_version, agent_version,"
                " collected_at, interval_kind, interval_seconds, reset_detected, statement_count, server, dropped)"
                " VALUES (%s, %s, %s, 2, '1.0.0', %s, 'delta', 30, false, 2, %s, %s)",
                [tenant, database, snapshot, AT, json.dumps({}), json.dumps({})],
            )
        for fingerprint, calls in (("a" * 16, 3), ("b" * 16, 4)):
            conn.execute(
                f"INSERT INTO statement_stats (tenant_id, database_id, fingerprint, collected_at, snapshot_id, "
                f"{', '.join(COUNTERS)}) VALUES (%s, %s, %s, %s, %s, {', '.join(['%s'] * len(COUNTERS))})",
                [tenant, database, fingerprint, AT, with_rows, *(calls for _ in COUNTERS)],
            )

    upgrade_to_head(owner_url)  # as the owner, whom FORCEd row-level security would blind

    with psycopg.connect(superuser_url, autocommit=True) as conn:
        totals = conn.execute(
            "SELECT snapshot_id, calls, total_exec_time_ms FROM snapshots WHERE tenant_id = %s", [tenant]
        ).fetchall()
        still_forced = conn.execute(
            "SELECT relforcerowsecurity FROM pg_class WHERE relname IN ('statement_stats', 'snapshots')"
        ).fetchall()
    assert sorted(totals) == sorted([(with_rows, 7, 7.0), (without_rows, 0, 0.0)])
    assert still_forced == [(True,), (True,)]
