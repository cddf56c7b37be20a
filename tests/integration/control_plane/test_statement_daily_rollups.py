"""The daily rollups (0011): partitioned and retained with the series, filled by the upgrade from the
hourly rollups (ingestion's part: api/test_daily_rollups_ingestion.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
from alembic import command

from control_plane.ingestion.repository import daily_bucket, rollup_bucket
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


def add_hour(
    conn: psycopg.Connection, tenant: uuid.UUID, database: uuid.UUID, bucket: datetime, value: int
) -> None:
    conn.execute(
        f"INSERT INTO statement_rollups (tenant_id, database_id, bucket, fingerprint, samples, {', '.join(COUNTERS)})"
        f" VALUES (%s, %s, %s, %s, 1, {', '.join(['%s'] * len(COUNTERS))})",
        [tenant, database, bucket, "a" * 16, *(value for _ in COUNTERS)],
    )


def test_the_fold_upgrade_marks_every_database_folded_past_its_stored_hours_and_the_downgrade_folds_the_rest(
    owner_database: tuple[str, str],
) -> None:
    """0018: the daily rollups of every existing database are complete, so each is marked folded up
    to the hour after its latest (at least the next hour); a downgrade adds the hours not folded."""
    owner_url, superuser_url = owner_database
    command.upgrade(alembic_config(owner_url), "0017")
    tenant, shop, empty = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    next_hour = rollup_bucket(datetime.now(UTC)) + timedelta(hours=1)
    ahead = next_hour + timedelta(hours=2)  # an agent whose clock runs ahead
    with psycopg.connect(superuser_url, autocommit=True) as conn:
        conn.execute("INSERT INTO tenants (id, name) VALUES (%s, 'acme')", [tenant])
        conn.execute(
            "INSERT INTO monitored_databases (tenant_id, id, name) VALUES (%s, %s, 'shop'), (%s, %s, 'empty')",
            [tenant, shop, tenant, empty],
        )
        conn.execute(
            "SELECT optischema_ensure_statement_stats_partitions(%s, 3)", [ahead.date() - timedelta(days=1)]
        )
        add_hour(conn, tenant, shop, ahead, 1)

    upgrade_to_head(owner_url)

    with psycopg.connect(superuser_url, autocommit=True) as conn:
        marks = dict(conn.execute("SELECT database_id, folded_before FROM statement_daily_folds").fetchall())
        assert marks[shop] == ahead + timedelta(hours=1)
        assert marks[empty] in (next_hour, next_hour + timedelta(hours=1))  # the hour may turn meanwhile
        later = ahead + timedelta(hours=2)  # as ingestion would store it after the upgrade
        add_hour(conn, tenant, shop, later, 2)

    command.downgrade(alembic_config(owner_url), "0017")

    with psycopg.connect(superuser_url, autocommit=True) as conn:
        daily = conn.execute(
            "SELECT bucket, samples, calls FROM statement_daily_rollups WHERE database_id = %s", [shop]
        ).fetchall()
    # Only the hour after the mark: the one before it counts as folded (the test wrote it straight
    # into the hourly rollups, where ingestion at 0017 would have added it to its day as well).
    assert daily == [(daily_bucket(later), 1, 2)]
