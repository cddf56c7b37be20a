"""Each day's rollup is the sum of the day's raw rows once its hours are folded from the hourly
rollups (control_plane.ingestion.daily_folds), and readers see every hour exactly once meanwhile."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import psycopg
from fastapi.testclient import TestClient

from tests.integration.control_plane.api.conftest import SeededTenant, bearer, register_database
from tests.integration.control_plane.api.snapshots import as_json, make_snapshot
from tests.integration.control_plane.inbox import drain_inbox, fold_days
from tests.integration.control_plane.test_statement_rollups_schema import COUNTERS

# Two days ago, so every hour here is over whatever the time of day the test runs at.
MIDNIGHT = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
SUMS = ", ".join(f"sum({name})" for name in COUNTERS)


def send(client: TestClient, agent: dict[str, str], *collected: datetime) -> None:
    for at in collected:
        sent = client.post(
            "/api/v1/agent/snapshots", json=as_json(make_snapshot(collected_at=at)), headers=agent
        )
        assert sent.status_code == 202, sent.text
    drain_inbox(client)


def days_of_raw_rows(metadata_url: str) -> list[tuple[object, ...]]:
    day = "date_trunc('day', collected_at, 'UTC')"
    with psycopg.connect(metadata_url) as conn:
        rows = conn.execute(
            f"SELECT fingerprint, {day}, count(*), {SUMS} FROM statement_stats GROUP BY 1, 2 ORDER BY 2, 1"
        ).fetchall()
    return [(*row[:2], *map(float, row[2:])) for row in rows]


def daily_rollups(metadata_url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(metadata_url) as conn:
        rows = conn.execute(
            f"SELECT fingerprint, bucket, samples, {', '.join(COUNTERS)} FROM statement_daily_rollups ORDER BY 2, 1"
        ).fetchall()
    return [(*row[:2], *map(float, row[2:])) for row in rows]


def test_each_day_is_the_sum_of_its_raw_rows_once_its_hours_are_folded(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    agent = bearer(register_database(client, acme)["agent_token"])
    send(
        client,
        agent,
        MIDNIGHT - timedelta(minutes=1),
        MIDNIGHT + timedelta(seconds=1),
        MIDNIGHT + timedelta(hours=2),
    )
    # Stored: the hours are in the hourly rollups alone, the fold has not passed them.
    assert daily_rollups(metadata_url) == []

    assert fold_days(client, MIDNIGHT + timedelta(hours=3)) == 1

    raw = days_of_raw_rows(metadata_url)
    assert len(raw) == 6  # 3 statements on each of two days
    assert daily_rollups(metadata_url) == raw
    assert fold_days(client, MIDNIGHT + timedelta(hours=3)) == 0  # nothing new: nothing added twice


def test_a_snapshot_of_a_folded_hour_adds_to_its_day_at_once_and_a_later_one_when_folded(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    agent = bearer(register_database(client, acme)["agent_token"])
    send(client, agent, MIDNIGHT + timedelta(minutes=10), MIDNIGHT + timedelta(hours=1, minutes=10))
    fold_days(client, MIDNIGHT + timedelta(hours=1))  # 00:00-01:00 folded, 01:00 not yet

    # An agent's spool after an outage: one snapshot of the folded hour, one of the hour after.
    send(client, agent, MIDNIGHT + timedelta(minutes=40), MIDNIGHT + timedelta(hours=1, minutes=40))
    with psycopg.connect(metadata_url) as conn:
        (samples,) = {row[0] for row in conn.execute("SELECT samples FROM statement_daily_rollups")}
    assert samples == 2  # 00:10 by the fold, 00:40 on arrival; the 01:xx ones wait for the fold

    fold_days(client, MIDNIGHT + timedelta(hours=2))
    assert daily_rollups(metadata_url) == days_of_raw_rows(metadata_url)


def lock_key(database_id: str) -> str:
    return f"daily-fold:{database_id}"


def wait_for_a_blocked_advisory_lock(metadata_url: str) -> None:
    with psycopg.connect(metadata_url, autocommit=True) as conn:
        for _ in range(200):
            if conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            ).fetchone() == (1,):
                return
            time.sleep(0.05)
    raise AssertionError("nothing waited for the fold lock")


def test_ingestion_waits_for_a_fold_in_flight_and_then_adds_to_the_day_it_folded(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    database = register_database(client, acme)
    at = MIDNIGHT + timedelta(minutes=10)
    sent = client.post(
        "/api/v1/agent/snapshots",
        json=as_json(make_snapshot(collected_at=at)),
        headers=bearer(database["agent_token"]),
    )
    assert sent.status_code == 202
    with psycopg.connect(metadata_url) as fold:  # a fold moving the mark past the snapshot's hour
        fold.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [lock_key(database["id"])])
        fold.execute(
            "INSERT INTO statement_daily_folds VALUES (%s, %s, %s, now())",
            [acme.id, database["id"], MIDNIGHT + timedelta(hours=1)],
        )
        with ThreadPoolExecutor(1) as pool:
            storing = pool.submit(drain_inbox, client)
            wait_for_a_blocked_advisory_lock(metadata_url)
            fold.commit()
            assert storing.result(timeout=30) == 1

    # It read the mark after the fold committed: its hour was folded, so it added to its day itself.
    assert daily_rollups(metadata_url) == days_of_raw_rows(metadata_url) != []


def test_a_fold_waits_for_a_snapshot_being_stored_and_then_folds_it_too(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    database = register_database(client, acme)
    send(client, bearer(database["agent_token"]), MIDNIGHT + timedelta(minutes=10))
    with psycopg.connect(metadata_url) as storing:  # a storing transaction in flight, of an unfolded hour
        storing.execute(
            "SELECT pg_advisory_xact_lock_shared(hashtextextended(%s, 0))", [lock_key(database["id"])]
        )
        storing.execute("UPDATE statement_rollups SET calls = calls + 1000, samples = samples + 1")
        with ThreadPoolExecutor(1) as pool:
            folding = pool.submit(fold_days, client, MIDNIGHT + timedelta(hours=1))
            wait_for_a_blocked_advisory_lock(metadata_url)
            storing.commit()
            assert folding.result(timeout=30) == 1

    # The fold read the hour after the storing transaction committed: its rows are in the day too.
    with psycopg.connect(metadata_url) as conn:
        rows = conn.execute("SELECT samples, calls FROM statement_daily_rollups").fetchall()
    assert rows and all(samples == 2 and calls > 1000 for samples, calls in rows)


def test_the_next_fold_replaces_what_a_replica_of_the_previous_version_added_past_the_mark(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    agent = bearer(register_database(client, acme)["agent_token"])
    send(client, agent, MIDNIGHT + timedelta(minutes=10), MIDNIGHT + timedelta(hours=1, minutes=10))
    fold_days(client, MIDNIGHT + timedelta(hours=1))
    # During an upgrade, a worker of the previous version stores the 01:10 snapshot again into its
    # day as well, as that version did with every snapshot: past the mark, the day counts it twice.
    with psycopg.connect(metadata_url) as conn:
        conn.execute("UPDATE statement_daily_rollups SET samples = samples + 1, calls = calls + 500")

    fold_days(client, MIDNIGHT + timedelta(hours=2))

    assert daily_rollups(metadata_url) == days_of_raw_rows(metadata_url)
