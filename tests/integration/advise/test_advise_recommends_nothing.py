"""Where an index would not help, `advise` recommends none, and says why under `skipped`."""

from __future__ import annotations

import subprocess

import psycopg

from deploy.local.throwaway_cluster import ThrowawayCluster
from tests.integration.advise.conftest import advise, created_indexes, fresh_statistics, run, statement_skips


def plant_people(db: psycopg.Connection, rows: int) -> None:
    db.execute(
        f"""
        CREATE TABLE people (id int PRIMARY KEY, name text NOT NULL, age int NOT NULL);
        INSERT INTO people SELECT g, 'person ' || g, g % 90 FROM generate_series(1, {rows}) g;
        """
    )


def test_primary_key_lookups_need_nothing(db: psycopg.Connection, db_url: str) -> None:
    plant_people(db, 100_000)
    fresh_statistics(db)
    run(db, "SELECT name FROM people WHERE id = %s", [[n] for n in range(50)])

    report = advise(db_url)

    assert created_indexes(report) == []
    (skipped,) = statement_skips(report)
    assert "people_pkey" in skipped["reason"]


def test_tiny_tables_need_nothing(db: psycopg.Connection, db_url: str) -> None:
    plant_people(db, 40)
    fresh_statistics(db)
    run(db, "SELECT id FROM people WHERE name = %s", [[f"person {n}"] for n in range(30)])

    report = advise(db_url)

    assert created_indexes(report) == []
    assert report["skipped"] and report["statements_analyzed"] == 1


def test_an_index_that_already_exists_is_not_recommended_again(db: psycopg.Connection, db_url: str) -> None:
    plant_people(db, 100_000)
    db.execute("CREATE INDEX people_name ON people (name)")
    fresh_statistics(db)
    run(db, "SELECT id FROM people WHERE name = %s", [[f"person {n}"] for n in range(30)])

    report = advise(db_url)

    assert created_indexes(report) == []


def test_a_full_table_aggregate_needs_nothing(db: psycopg.Connection, db_url: str) -> None:
    plant_people(db, 100_000)
    fresh_statistics(db)
    run(db, "SELECT count(*), avg(age) FROM people", [[]] * 20)

    report = advise(db_url)

    assert created_indexes(report) == []
    assert "whole tables" in statement_skips(report)[0]["reason"]


def test_pgbench_tpcb_workload_needs_no_new_index(
    db: psycopg.Connection, pg_cluster: ThrowawayCluster
) -> None:
    connection = ["-h", pg_cluster.host, "-p", str(pg_cluster.port), "-U", pg_cluster.superuser]
    subprocess.run(
        ["pgbench", "-i", "-s", "2", "-q", *connection, db.info.dbname], check=True, capture_output=True
    )
    fresh_statistics(db)
    subprocess.run(
        ["pgbench", "-c", "2", "-t", "300", "-M", "extended", *connection, db.info.dbname],
        check=True,
        capture_output=True,
    )

    report = advise(pg_cluster.url(db.info.dbname))

    assert created_indexes(report) == []
    assert report["statements_analyzed"] >= 4
