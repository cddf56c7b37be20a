"""The query heatmap and one query's series over long ranges: both read the hourly rollups, and
still add up to exactly the raw intervals (as the superuser sums them) in every bucket, an agent's
first snapshot (counters since a reset, not an interval's work) left out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from shared.wire.snapshot import IntervalInfo, Snapshot
from tests.integration.control_plane.api.conftest import SeededTenant, as_user, bearer, register_database
from tests.integration.control_plane.api.snapshots import as_json, fingerprint, make_snapshot
from tests.integration.control_plane.inbox import drain_inbox

DAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)
# 10:05 10:20 10:40 10:55 | 11:00 11:30 | 12:15 12:45
COLLECTED = [DAY + timedelta(hours=10, minutes=m) for m in (5, 20, 40, 55, 60, 90, 135, 165)]
# Agent restarts: one in the edge hour a range cuts (read raw), one in an hour read rolled up.
RESTARTS = [DAY + timedelta(hours=10, minutes=m) for m in (12, 70)]


def first_snapshot(at: datetime) -> Snapshot:
    snapshot = make_snapshot(statements=4, collected_at=at, calls=100_000)
    return snapshot.model_copy(
        update={
            "interval": IntervalInfo(kind="since_reset", started_at=None, ended_at=at, seconds=None),
            "statements": [s.model_copy(update={"total_exec_time_ms": 9e8}) for s in snapshot.statements],
        }
    )


def restart(client: TestClient, token: str, times: list[datetime]) -> None:
    for at in times:
        sent = client.post("/api/v1/agent/snapshots", json=as_json(first_snapshot(at)), headers=bearer(token))
        assert sent.status_code == 202, sent.text
        drain_inbox(client)


def ingest(client: TestClient, token: str, times: list[datetime], statements: int = 4) -> None:
    for number, at in enumerate(times):
        snapshot = make_snapshot(statements=statements, collected_at=at, calls=number + 1)
        # Different times per snapshot, so that a sum over the wrong rows cannot match.
        snapshot = snapshot.model_copy(
            update={
                "statements": [
                    s.model_copy(update={"total_exec_time_ms": s.total_exec_time_ms + number})
                    for s in snapshot.statements
                ]
            }
        )
        sent = client.post("/api/v1/agent/snapshots", json=as_json(snapshot), headers=bearer(token))
        assert sent.status_code == 202, sent.text
        drain_inbox(client)


def raw_times(metadata_url: str, database_id: str, since: datetime, until: datetime) -> dict[str, float]:
    with psycopg.connect(metadata_url) as conn:
        rows = conn.execute(
            "SELECT fingerprint, sum(total_exec_time_ms) FROM statement_stats "
            "WHERE database_id = %s AND collected_at BETWEEN %s AND %s AND interval_seconds IS NOT NULL "
            "GROUP BY fingerprint",
            [database_id, since, until],
        ).fetchall()
    return {row[0]: float(row[1]) for row in rows}


def heatmap(client: TestClient, headers: dict[str, str], database_id: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/api/v1/databases/{database_id}/heatmap", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def parse(at: str) -> datetime:
    return datetime.fromisoformat(at.replace("Z", "+00:00"))


def check_cells(
    body: dict[str, Any], metadata_url: str, database_id: str, since: datetime, until: datetime
) -> None:
    """Each cell is the raw rows' sum over its bucket clipped to [since, until]."""
    width = timedelta(seconds=body["bucket_seconds"])
    starts = [parse(at) for at in body["buckets"]]
    assert len(starts) == len(body["rows"][0]["cells"])
    for index, start in enumerate(starts):
        last = index == len(starts) - 1
        low = max(since, start)
        high = until if last else min(until, start + width - timedelta(microseconds=1))
        expected = raw_times(metadata_url, database_id, low, high) if low <= high else {}
        for row in body["rows"]:
            assert abs(row["cells"][index] - expected.get(row["fingerprint"], 0.0)) < 1e-6, (index, row)
    for row in body["rows"]:
        assert abs(sum(row["cells"]) - row["total_exec_time_ms"]) < 1e-6


def test_hourly_heatmap_cells_equal_the_raw_rows_for_a_range_that_cuts_through_hours(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    database = register_database(client, acme)
    ingest(client, database["agent_token"], COLLECTED)
    restart(client, database["agent_token"], RESTARTS)
    viewer = as_user(client, acme, "viewer")
    since, until = DAY + timedelta(hours=10, minutes=10), DAY + timedelta(hours=12, minutes=20)

    # 2 h 10 min in 2 buckets: 65 minutes, rounded up to 2 whole hours from 10:00.
    body = heatmap(
        client, viewer, database["id"], **{"from": since.isoformat(), "to": until.isoformat()}, buckets=2
    )

    assert body["resolution"] == "hour" and body["bucket_seconds"] == 7200.0
    assert [parse(at) for at in body["buckets"]] == [DAY + timedelta(hours=10), DAY + timedelta(hours=12)]
    assert [row["fingerprint"] for row in body["rows"]] == [fingerprint(n) for n in (3, 2, 1, 0)]
    expected = raw_times(metadata_url, database["id"], since, until)
    assert {row["fingerprint"]: row["total_exec_time_ms"] for row in body["rows"]} == expected
    check_cells(body, metadata_url, database["id"], since, until)


def test_fine_heatmap_reads_raw_intervals_and_keeps_only_the_busiest(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    database = register_database(client, acme)
    ingest(client, database["agent_token"], COLLECTED)
    restart(client, database["agent_token"], RESTARTS)
    viewer = as_user(client, acme, "viewer")
    since, until = DAY + timedelta(hours=10, minutes=10), DAY + timedelta(hours=12, minutes=45)

    body = heatmap(
        client,
        viewer,
        database["id"],
        **{"from": since.isoformat(), "to": until.isoformat()},
        buckets=31,
        limit=2,
    )

    assert body["resolution"] == "interval" and body["bucket_seconds"] == 300.0
    assert parse(body["buckets"][0]) == since and len(body["buckets"]) == 31
    assert [row["fingerprint"] for row in body["rows"]] == [fingerprint(3), fingerprint(2)]
    assert body["rows"][0]["cells"][-1] > 0  # the 12:45 snapshot, on `to`, is in the last bucket
    check_cells(body, metadata_url, database["id"], since, until)


def test_heatmap_is_tenant_scoped_and_refuses_an_empty_range(
    client: TestClient, acme: SeededTenant, globex: SeededTenant
) -> None:
    database = register_database(client, acme)
    at = f"/api/v1/databases/{database['id']}/heatmap"
    now = datetime.now(UTC).isoformat()

    assert client.get(at, headers=as_user(client, globex, "admin")).status_code == 404
    assert (
        client.get(at, params={"from": now, "to": now}, headers=as_user(client, acme, "viewer")).status_code
        == 400
    )
    empty = client.get(at, headers=as_user(client, acme, "viewer")).json()
    assert empty["rows"] == [] and len(empty["buckets"]) == 48 and empty["resolution"] == "interval"


def test_a_query_over_seven_days_comes_by_the_hour_without_the_first_snapshot(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    database = register_database(client, acme)
    now = datetime.now(UTC)
    start = now - timedelta(days=6, hours=12)
    first = make_snapshot(collected_at=start, calls=100_000)  # counters since a reset: days of work
    first = first.model_copy(
        update={"interval": IntervalInfo(kind="since_reset", started_at=None, ended_at=start, seconds=None)}
    )
    client.post("/api/v1/agent/snapshots", json=as_json(first), headers=bearer(database["agent_token"]))
    drain_inbox(client)
    later = [start + timedelta(minutes=m) for m in (20, 50, 70)] + [
        now - timedelta(days=2, minutes=m) for m in (5, 35)
    ]
    ingest(client, database["agent_token"], later, statements=3)
    viewer = as_user(client, acme, "viewer")
    at = f"/api/v1/databases/{database['id']}/queries/{fingerprint(0)}"

    week = client.get(
        at, params={"from": (now - timedelta(days=7)).isoformat(), "to": now.isoformat()}, headers=viewer
    ).json()
    hour = client.get(
        at,
        params={
            "from": (start - timedelta(minutes=1)).isoformat(),
            "to": (start + timedelta(hours=1)).isoformat(),
        },
        headers=viewer,
    ).json()

    assert week["resolution"] == "hour"
    assert all(
        point["at"].endswith(":00:00Z") and point["interval_seconds"] == 3600.0 for point in week["series"]
    )
    with psycopg.connect(metadata_url) as conn:
        ((calls, total, rows),) = conn.execute(
            "SELECT sum(calls), sum(total_exec_time_ms), sum(rows) FROM statement_stats WHERE database_id = %s "
            "AND fingerprint = %s AND interval_seconds IS NOT NULL",
            [database["id"], fingerprint(0)],
        ).fetchall()
    assert sum(p["calls"] for p in week["series"]) == calls  # the first snapshot's 100,000 are not in
    assert sum(p["total_exec_time_ms"] for p in week["series"]) == total
    assert sum(p["rows"] for p in week["series"]) == rows
    assert len(week["series"]) <= 4  # one point per hour with data, not one per interval
    assert hour["resolution"] == "interval" and hour["series"][0]["interval_seconds"] is None
    # A time without an offset is UTC, beside a default `to` that has one.
    naive = client.get(
        at, params={"from": (now - timedelta(days=7)).replace(tzinfo=None).isoformat()}, headers=viewer
    )
    assert naive.status_code == 200 and naive.json()["series"] == week["series"]
