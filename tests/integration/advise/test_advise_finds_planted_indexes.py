"""`advise` finds the indexes a workload is missing, and proves each with HypoPG costs."""

from __future__ import annotations

import psycopg
import pytest

from tests.integration.advise.conftest import advise, created_indexes, fresh_statistics, run


@pytest.fixture
def events(db: psycopg.Connection) -> psycopg.Connection:
    db.execute(
        """
        CREATE TABLE events (
            id bigserial PRIMARY KEY,
            account_id int NOT NULL,
            device_id int NOT NULL,
            kind text NOT NULL,
            created_at timestamptz NOT NULL
        ) WITH (autovacuum_enabled = false);  -- no visibility map set behind the tests' backs
        INSERT INTO events (account_id, device_id, kind, created_at)
        SELECT g % 2003, (g / 7) % 1009, (ARRAY['click','view','buy'])[1 + g % 3],
               timestamptz '2026-01-01' + g * interval '1 second'
          FROM generate_series(1, 200000) g;
        """
    )
    return db


def test_single_column_lookup_gets_its_index_with_costs_before_and_after(
    events: psycopg.Connection, db_url: str
) -> None:
    fresh_statistics(events)
    run(events, "SELECT id, kind FROM events WHERE device_id = %s", [[n] for n in range(40)])

    report = advise(db_url)

    assert created_indexes(report) == [("public.events", ("device_id",))]
    recommendation = report["recommendations"][0]
    assert recommendation["tier"] == "verified"
    assert (
        recommendation["sql"]
        == "CREATE INDEX CONCURRENTLY events_device_id_idx ON public.events (device_id);"
    )
    assert recommendation["rollback_sql"] == "DROP INDEX CONCURRENTLY IF EXISTS public.events_device_id_idx;"
    assert recommendation["improvement_pct"] >= 80
    (query,) = recommendation["queries"]
    assert query["query"] == "SELECT id, kind FROM events WHERE device_id = $1"
    assert query["calls"] == 40
    assert query["cost_after"] < query["cost_before"] / 5


def test_two_equality_columns_get_one_composite_index(events: psycopg.Connection, db_url: str) -> None:
    fresh_statistics(events)
    run(events, "SELECT * FROM events WHERE account_id = %s AND device_id = %s", [[n, n] for n in range(30)])

    report = advise(db_url)

    [(table, columns)] = created_indexes(report)
    assert table == "public.events"
    assert set(columns) == {"account_id", "device_id"}


def test_join_key_of_the_inner_side_is_indexed(events: psycopg.Connection, db_url: str) -> None:
    events.execute(
        """
        CREATE TABLE accounts (id int PRIMARY KEY, region text NOT NULL);
        INSERT INTO accounts SELECT g, (ARRAY['eu','us','apac'])[1 + g % 3] FROM generate_series(0, 2002) g;
        """
    )
    fresh_statistics(events)
    run(
        events,
        "SELECT a.region, e.kind FROM accounts a JOIN events e ON e.account_id = a.id WHERE a.id = %s",
        [[n] for n in range(30)],
    )

    report = advise(db_url)

    assert ("public.events", ("account_id",)) in created_indexes(report)


def test_sort_with_limit_gets_an_index_on_the_sort_key(events: psycopg.Connection, db_url: str) -> None:
    fresh_statistics(events)
    run(events, "SELECT id, kind FROM events ORDER BY created_at DESC LIMIT %s", [[10]] * 25)

    report = advise(db_url)

    assert created_indexes(report) == [("public.events", ("created_at",))]


def test_recommendation_ids_are_stable_across_runs(events: psycopg.Connection, db_url: str) -> None:
    fresh_statistics(events)
    run(events, "SELECT id FROM events WHERE device_id = %s", [[n] for n in range(10)])

    first, second = advise(db_url), advise(db_url)

    assert [r["id"] for r in first["recommendations"]] == [r["id"] for r in second["recommendations"]]


def test_a_lookup_reading_one_more_column_of_many_rows_gets_a_covering_index(
    db: psycopg.Connection, db_url: str
) -> None:
    # Committed synchronously, so that VACUUM can mark the pages all-visible: index-only scans then pay.
    db.execute("SET synchronous_commit = on")
    db.execute(
        """
        CREATE TABLE readings (id bigserial PRIMARY KEY, sensor_id int NOT NULL, value int NOT NULL,
                               note text NOT NULL);
        INSERT INTO readings (sensor_id, value, note)
        SELECT g % 500, g % 97, repeat('x', 60) FROM generate_series(1, 200000) g;
        """
    )
    db.execute("VACUUM (ANALYZE) readings")
    db.execute("SELECT pg_stat_statements_reset()")
    run(db, "SELECT sum(value) FROM readings WHERE sensor_id = %s", [[n] for n in range(40)])

    report = advise(db_url)

    # Each sensor's 400 rows lie on as many pages: (sensor_id) alone would still visit them all.
    assert created_indexes(report) == [("public.readings", ("sensor_id", "value"))]


def test_a_wide_index_must_beat_its_narrower_prefix_even_when_taken_first(
    events: psycopg.Connection, db_url: str
) -> None:
    fresh_statistics(events)
    # (account_id, kind) would cover the statement, but an index-only scan buys nothing without a
    # settled visibility map: the narrower (account_id) does as well and is what gets recommended.
    run(events, "SELECT kind FROM events WHERE account_id = %s", [[n] for n in range(30)])

    report = advise(db_url)

    assert created_indexes(report) == [("public.events", ("account_id",))]
