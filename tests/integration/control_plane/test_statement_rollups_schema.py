"""The hourly rollups in the schema: partitioned and retained with the series, filled by the upgrade."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import psycopg
from alembic import command

from migrations.runner import alembic_config, upgrade_to_head

COUNTERS = ("calls", "rows", "total_exec_time_ms", "total_plan_time_ms", "shared_blks_hit", "shared_blks_read",
            "shared_blks_dirtied", "shared_blks_written", "local_blks_hit", "local_blks_read", "temp_blks_read",
            "temp_blks_written", "blk_read_time_ms", "blk_write_time_ms", "wal_bytes")  # fmt: skip


def children(conn: psycopg.Connection, parent: str) -> list[str]:
    rows = conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = %s::regclass ORDER BY 1",
        [parent],
    ).fetchall()
    return [row[0] for row in rows]


def test_rollup_partitions_come_and_go_with_the_series_partitions(metadata_url: str) -> None:
    with psycopg.connect(metadata_url, autocommit=True) as conn:
        # The functions still count days, as before the rollups existed.
        assert conn.execute(
            "SELECT optischema_ensure_statement_stats_partitions('2020-01-01', 3)"
        ).fetchone() == (3,)
        assert conn.execute(
            "SELECT optischema_ensure_statement_stats_partitions('2020-01-03', 2)"
        ).fetchone() == (1,)
        assert children(conn, "statement_rollups") == [f"statement_rollups_p2020010{d}" for d in (1, 2, 3, 4)]
        forced = conn.execute(
            "SELECT bool_and(relforcerowsecurity), bool_and(reloptions @> '{fillfactor=50}') FROM pg_class "
            "WHERE relkind = 'r' AND relname LIKE 'statement\\_rollups\\_p%'"
        ).fetchone()
        assert forced == (True, True)

        assert conn.execute("SELECT optischema_drop_statement_stats_partitions('2020-01-03')").fetchone() == (
            2,
        )

        assert children(conn, "statement_stats") == ["statement_stats_p20200103", "statement_stats_p20200104"]
        assert children(conn, "statement_rollups") == [
            "statement_rollups_p20200103",
            "statement_rollups_p20200104",
        ]


def test_the_upgrade_rolls_up_the_series_already_stored(owner_database: tuple[str, str]) -> None:
    owner_url, superuser_url = owner_database
    command.upgrade(alembic_config(owner_url), "0003")
    tenant, database = uuid.uuid4(), uuid.uuid4()
    stored = [  # (fingerprint, collected_at, calls)
        ("a" * 16, datetime(2020, 1, 1, 10, 5, tzinfo=UTC), 1),
        ("a" * 16, datetime(2020, 1, 1, 10, 35, tzinfo=UTC), 2),
        ("a" * 16, datetime(2020, 1, 1, 11, 0, tzinfo=UTC), 4),
        ("b" * 16, datetime(2020, 1, 1, 10, 35, tzinfo=UTC), 8),
        ("a" * 16, datetime(2020, 1, 2, 0, 30, tzinfo=UTC), 16),
    ]
    with psycopg.connect(superuser_url, autocommit=True) as conn:
        conn.execute("SELECT optischema_ensure_statement_stats_partitions('2020-01-01', 2)")
        for fingerprint, at, calls in stored:
            conn.execute(
                f"INSERT INTO statement_stats (tenant_id, database_id, fingerprint, collected_at, snapshot_id, "
                f"{', '.join(COUNTERS)}) VALUES (%s, %s, %s, %s, %s, {', '.join(['%s'] * len(COUNTERS))})",
                [tenant, database, fingerprint, at, uuid.uuid4(), *(calls for _ in COUNTERS)],
            )

    upgrade_to_head(owner_url)  # as the owner, whom FORCEd row-level security would blind

    with psycopg.connect(superuser_url, autocommit=True) as conn:
        rollups = conn.execute(
            "SELECT fingerprint, bucket, samples, calls, total_exec_time_ms, wal_bytes FROM statement_rollups "
            "WHERE tenant_id = %s AND database_id = %s ORDER BY bucket, fingerprint",
            [tenant, database],
        ).fetchall()
        assert children(conn, "statement_rollups") == [
            "statement_rollups_p20200101",
            "statement_rollups_p20200102",
        ]
        still_forced = conn.execute(
            "SELECT relforcerowsecurity FROM pg_class WHERE relname IN ('statement_stats', 'statement_rollups')"
        ).fetchall()
    assert rollups == [
        ("a" * 16, datetime(2020, 1, 1, 10, tzinfo=UTC), 2, 3, 3.0, 3),
        ("b" * 16, datetime(2020, 1, 1, 10, tzinfo=UTC), 1, 8, 8.0, 8),
        ("a" * 16, datetime(2020, 1, 1, 11, tzinfo=UTC), 1, 4, 4.0, 4),
        ("a" * 16, datetime(2020, 1, 2, 0, tzinfo=UTC), 1, 16, 16.0, 16),
    ]
    assert still_forced == [(True,), (True,)]


def test_the_upgrade_can_be_undone(metadata_url: str) -> None:
    command.downgrade(alembic_config(metadata_url), "0003")
    with psycopg.connect(metadata_url, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('statement_rollups')").fetchone() == (None,)
        assert conn.execute(
            "SELECT optischema_ensure_statement_stats_partitions('2020-01-01', 1)"
        ).fetchone() == (1,)
        assert children(conn, "statement_stats") == ["statement_stats_p20200101"]

    upgrade_to_head(metadata_url)
