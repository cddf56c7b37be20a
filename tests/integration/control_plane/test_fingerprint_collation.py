"""Fingerprints are compared as bytes: every fingerprint column, partitions and the batch table included."""

from __future__ import annotations

import psycopg
import pytest
from alembic import command

from control_plane.ingestion.batch_rows import BATCH_ROWS_TABLE, CREATE_BATCH_ROWS
from deploy.local.throwaway_cluster import ThrowawayCluster, running_cluster
from migrations.runner import alembic_config, current_revision

FINGERPRINT_COLUMNS = """
    SELECT c.relname, coalesce(k.collname, 'default')
      FROM pg_attribute a
      JOIN pg_class c ON c.oid = a.attrelid
      LEFT JOIN pg_collation k ON k.oid = a.attcollation AND a.attcollation <> 100
     WHERE a.attname = 'fingerprint' AND a.attnum > 0 AND NOT a.attisdropped
       AND c.relkind IN ('r', 'p') AND c.relnamespace = %s::regnamespace
     ORDER BY 1
"""


def test_every_fingerprint_column_and_its_partitions_are_collated_c(metadata_url: str) -> None:
    with psycopg.connect(metadata_url, autocommit=True) as conn:
        conn.execute("SELECT optischema_ensure_statement_stats_partitions(current_date, 1)")
        schema = conn.execute("SELECT current_schema()").fetchone()
        assert schema is not None
        columns = conn.execute(FINGERPRINT_COLUMNS, [schema[0]]).fetchall()

    tables = {table for table, _ in columns}
    # The statement series, their partitions and the tables analysis keys by fingerprint.
    assert {
        "statements",
        "statement_stats",
        "statement_rollups",
        "statement_daily_rollups",
        "plans",
    } <= tables
    assert any(table.startswith("statement_stats_p") for table in tables)
    assert [table for table, collation in columns if collation != "C"] == []


def test_the_batch_table_collates_its_fingerprints_as_the_tables_do(metadata_url: str) -> None:
    with psycopg.connect(metadata_url) as conn:
        conn.execute(CREATE_BATCH_ROWS)
        row = conn.execute(
            "SELECT k.collname FROM pg_attribute a JOIN pg_collation k ON k.oid = a.attcollation"
            " WHERE a.attrelid = %s::regclass AND a.attname = 'fingerprint'",
            [f"pg_temp.{BATCH_ROWS_TABLE}"],
        ).fetchone()
    assert row == ("C",)


def partitions_62_days_ahead_at_0018(cluster: ThrowawayCluster) -> str:
    url = cluster.create_database("optischema_locks")
    command.upgrade(alembic_config(url), "0018")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT optischema_ensure_statement_stats_partitions(current_date, 62)")
    return url


def test_collating_refuses_to_take_more_than_half_the_servers_lock_table() -> None:
    """Every partition and index it alters stays locked until the migrations commit, in a lock table
    every session shares: with a small one (64 x 10 = 640 locks) and 62 days of partitions ahead
    (~1,200 relations), it stops before altering anything and says what to raise."""
    with running_cluster({"max_connections": "10"}) as cluster:
        url = partitions_62_days_ahead_at_0018(cluster)
        with pytest.raises(RuntimeError, match=r"set max_locks_per_transaction to at least \d+"):
            command.upgrade(alembic_config(url), "0019")
        assert current_revision(url) == "0018"


def test_collating_goes_on_when_the_lock_table_has_room() -> None:
    with running_cluster({"max_connections": "10", "max_locks_per_transaction": "256"}) as cluster:
        url = partitions_62_days_ahead_at_0018(cluster)
        command.upgrade(alembic_config(url), "0019")
        assert current_revision(url) == "0019"
