"""The daily rollups (0011): partitioned and retained with the series, filled by the upgrade from the
hourly rollups (ingestion's part: api/test_daily_rollups_ingestion.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import psycopg
from alembic import command

from migrations.runner import alembic_config, upgrade_to_head
from tests.integration.control_plane.test_statement_rollups_schema import COUNTERS, children


def test_daily_partitions_come_and_go_with_the_series_partitions(metadata_url: str) -> None:
    with psycopg.connect(metadata_url, autocommit=True) as conn:
        assert conn.execute(
            "SELECT optischema_ensure_statement_stats_partitions('2020-01-01', 2)"
        ).fetchone() == (2,)
        assert children(conn, "statement_daily_rollups") == [
            "statement_daily_rollups_p20200101",
            "statement_daily_rollups_p20200102",
        ]
        forced = conn.execute(
            "SELECT bool_and(relforcerowsecurity), bool_and(reloptions @> '{fillfactor=50}') FROM pg_class "
            "WHERE relkind = 'r' AND relname LIKE 'statement\\_daily\\_rollups\\_p%'"
        ).fetchone()
        assert forced == (True, True)

        assert conn.execute("SELECT optischema_drop_statement_stats_partitions('2020-01-02')").fetchone() == (
            1,
        )

        assert children(conn, "statement_daily_rollups") == ["statement_daily_rollups_p20200102"]


def test_the_upgrade_sums_the_hourly_rollups_into_days(owner_database: tuple[str, str]) -> None:
    owner_url, superuser_url = owner_database
    command.upgrade(alembic_config(owner_url), "0010")
    tenant, database = uuid.uuid4(), uuid.uuid4()
    hourly = [  # (fingerprint, bucket, samples, counters)
        ("a" * 16, datetime(2020, 1, 1, 10, tzinfo=UTC), 2, 3),
        ("a" * 16, datetime(2020, 1, 1, 23, tzinfo=UTC), 1, 4),
        ("b" * 16, datetime(2020, 1, 1, 10, tzinfo=UTC), 1, 8),
        ("a" * 16, datetime(2020, 1, 2, 0, tzinfo=UTC), 1, 16),
    ]
    with psycopg.connect(superuser_url, autocommit=True) as conn:
        conn.execute("SELECT optischema_ensure_statement_stats_partitions('2020-01-01', 2)")
        for fingerprint, bucket, samples, value in hourly:
            conn.execute(
                f"INSERT INTO statement_rollups (tenant_id, database_id, bucket, fingerprint, samples, "
                f"{', '.join(COUNTERS)}) VALUES (%s, %s, %s, %s, %s, {', '.join(['%s'] * len(COUNTERS))})",
                [tenant, database, bucket, fingerprint, samples, *(value for _ in COUNTERS)],
            )

    upgrade_to_head(owner_url)  # as the owner, whom FORCEd row-level security would blind

    with psycopg.connect(superuser_url, autocommit=True) as conn:
        daily = conn.execute(
            "SELECT fingerprint, bucket, samples, calls, total_exec_time_ms, wal_bytes FROM statement_daily_rollups "
            "WHERE tenant_id = %s AND database_id = %s ORDER BY bucket, fingerprint",
            [tenant, database],
        ).fetchall()
        still_forced = conn.execute(
            "SELECT relforcerowsecurity FROM pg_class "
            "WHERE relname IN ('statement_rollups', 'statement_daily_rollups')"
        ).fetchall()
    assert daily == [
        ("a" * 16, datetime(2020, 1, 1, tzinfo=UTC), 3, 7, 7.0, 7),
        ("b" * 16, datetime(2020, 1, 1, tzinfo=UTC), 1, 8, 8.0, 8),
        ("a" * 16, datetime(2020, 1, 2, tzinfo=UTC), 1, 16, 16.0, 16),
    ]
    assert still_forced == [(True,), (True,)]
