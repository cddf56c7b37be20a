"""Top queries read hourly rollups: over any range they still equal the sums of the stored intervals.

The raw per-interval rows stay the reference: these tests sum them straight from the database (as
the superuser) and compare with what the API answers, for ranges that cut hours, cover them whole,
or fall inside one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from shared.wire.snapshot import Snapshot
from tests.integration.control_plane.api.conftest import SeededTenant, as_user, bearer, register_database
from tests.integration.control_plane.api.snapshots import as_json, fingerprint, make_snapshot
from tests.integration.control_plane.inbox import drain_inbox

# Snapshots over three UTC hours of a past day (partitions are made for any day up to 62 ahead).
DAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)
# 10:05 10:20 10:40 10:55 | 11:00 11:30 | 12:15 12:45
COLLECTED = [DAY + timedelta(hours=10, minutes=m) for m in (5, 20, 40, 55, 60, 90, 135, 165)]


def post(client: TestClient, token: str, snapshot: Snapshot) -> int:
    status = client.post("/api/v1/agent/snapshots", json=as_json(snapshot), headers=bearer(token)).status_code
    drain_inbox(client)
    return status


def ingest_three_hours(client: TestClient, token: str) -> None:
    for number, at in enumerate(COLLECTED):
        # Different counts per snapshot, so that a sum taken over the wrong rows cannot match.
        assert post(client, token, make_snapshot(statements=4, collected_at=at, calls=number + 1)) == 202


def raw_sums(
    metadata_url: str, database_id: str, since: datetime, until: datetime
) -> dict[str, tuple[int, float]]:
    with psycopg.connect(metadata_url) as conn:
        rows = conn.execute(
            "SELECT fingerprint, sum(calls), sum(total_exec_time_ms) FROM statement_stats "
            "WHERE database_id = %s AND collected_at BETWEEN %s AND %s GROUP BY fingerprint",
            [database_id, since, until],
        ).fetchall()
    return {row[0]: (int(row[1]), float(row[2])) for row in rows}


def top(client: TestClient, headers: dict[str, str], database_id: str, **params: Any) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/databases/{database_id}/queries", params=params, headers=headers)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows


def test_top_queries_over_any_range_equal_the_sums_of_the_intervals_in_it(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    database = register_database(client, acme)
    ingest_three_hours(client, database["agent_token"])
    viewer = as_user(client, acme, "viewer")
    ten = DAY + timedelta(hours=10)
    ranges = {
        "everything": (DAY, DAY + timedelta(days=1)),
        "whole hours": (ten, ten + timedelta(hours=2)),
        "cutting both edge hours": (ten + timedelta(minutes=10), ten + timedelta(hours=2, minutes=20)),
        "inside one hour": (ten + timedelta(minutes=10), ten + timedelta(minutes=45)),
        "from an hour's start to inside it": (ten, ten + timedelta(minutes=45)),
        "from inside an hour to its last snapshot": (ten + timedelta(minutes=10), COLLECTED[3]),
        "edges on snapshots": (COLLECTED[1], COLLECTED[5]),  # both ends inclusive
        "up to an hour exactly": (ten, ten + timedelta(hours=1)),  # the 11:00 snapshot is in 11's hour
        "past the last snapshot of the hour": (
            ten + timedelta(minutes=30),
            ten + timedelta(hours=2, minutes=50),
        ),
        "nothing in it": (ten + timedelta(minutes=56), ten + timedelta(minutes=59)),
    }

    for name, (since, until) in ranges.items():
        rows = top(client, viewer, database["id"], **{"from": since.isoformat(), "to": until.isoformat()})
        expected = raw_sums(metadata_url, database["id"], since, until)
        assert {r["fingerprint"]: (r["calls"], r["total_exec_time_ms"]) for r in rows} == expected, name
        if expected:
            grand_total = sum(total for _, total in expected.values())
            assert [r["load_pct"] for r in rows] == [
                round(100 * r["total_exec_time_ms"] / grand_total, 2) for r in rows
            ], name


def test_a_top_statement_kept_for_its_shape_reads_each_request_s_own_database_and_range(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    """The top statement is built once per shape of range and then read with each request's values
    (queries.counters_statement): ranges of one shape over two databases, read in turn, each give
    the sums of their own database's intervals in their own range, never the previous request's."""
    first, second = register_database(client, acme), register_database(client, acme)
    ingest_three_hours(client, first["agent_token"])
    for number, at in enumerate(COLLECTED[:5]):  # fewer statements, other counts
        snapshot = make_snapshot(statements=2, collected_at=at, calls=10 * (number + 1))
        assert post(client, second["agent_token"], snapshot) == 202
    viewer = as_user(client, acme, "viewer")
    ten = DAY + timedelta(hours=10)
    # Each cuts its first hour and ends inside its last, one hour on: one shape, other values.
    ranges = [(ten + timedelta(minutes=m), ten + timedelta(hours=1, minutes=m + 20)) for m in (10, 30, 50)]

    for since, until in ranges * 2:
        for database in (first, second, first):
            rows = top(client, viewer, database["id"], **{"from": since.isoformat(), "to": until.isoformat()})
            expected = raw_sums(metadata_url, database["id"], since, until)
            assert {r["fingerprint"]: (r["calls"], r["total_exec_time_ms"]) for r in rows} == expected


def test_every_ordering_ranks_the_same_sums(client: TestClient, acme: SeededTenant) -> None:
    database = register_database(client, acme)
    ingest_three_hours(client, database["agent_token"])
    viewer = as_user(client, acme, "viewer")
    window = {"from": DAY.isoformat(), "to": (DAY + timedelta(days=1)).isoformat()}

    by_total = top(client, viewer, database["id"], order_by="total_time", **window)
    by_calls = top(client, viewer, database["id"], order_by="calls", **window)
    by_mean = top(client, viewer, database["id"], order_by="mean_time", limit=2, **window)

    # make_snapshot: statement n has (n + 1) x the calls and (n + 1) x 100 ms: one mean for all.
    assert [r["fingerprint"] for r in by_total] == [fingerprint(n) for n in (3, 2, 1, 0)]
    assert [r["fingerprint"] for r in by_calls] == [fingerprint(n) for n in (3, 2, 1, 0)]
    assert len({r["mean_exec_time_ms"] for r in by_mean}) == 1
    assert [r["fingerprint"] for r in by_mean] == sorted(fingerprint(n) for n in range(4))[
        :2
    ]  # ties by fingerprint
    assert sum(r["load_pct"] for r in by_total) == 100.0


def test_a_resent_snapshot_adds_nothing(client: TestClient, acme: SeededTenant, metadata_url: str) -> None:
    database = register_database(client, acme)
    snapshot = make_snapshot(statements=2, collected_at=COLLECTED[0])
    viewer = as_user(client, acme, "viewer")

    assert [post(client, database["agent_token"], snapshot) for _ in range(3)] == [202, 200, 200]

    rows = top(
        client,
        viewer,
        database["id"],
        **{"from": DAY.isoformat(), "to": (DAY + timedelta(days=1)).isoformat()},
    )
    assert {r["fingerprint"]: r["calls"] for r in rows} == {fingerprint(0): 10, fingerprint(1): 20}
    with psycopg.connect(metadata_url) as conn:
        assert conn.execute("SELECT sum(samples) FROM statement_rollups").fetchone() == (2,)


def test_deleting_a_database_removes_its_rollups(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    kept, deleted = register_database(client, acme, "kept"), register_database(client, acme, "deleted")
    for database in (kept, deleted):
        assert post(client, database["agent_token"], make_snapshot(collected_at=COLLECTED[0])) == 202

    assert (
        client.delete(
            f"/api/v1/databases/{deleted['id']}", headers=as_user(client, acme, "admin")
        ).status_code
        == 204
    )

    with psycopg.connect(metadata_url) as conn:
        left = conn.execute("SELECT DISTINCT database_id::text FROM statement_rollups").fetchall()
    assert left == [(kept["id"],)]


@contextmanager
def statements_sent() -> Iterator[list[str]]:
    """Every SQL statement any engine sends while the block runs."""
    sent: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def test_a_snapshot_is_stored_in_the_same_few_statements_whatever_its_size(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    token = register_database(client, acme)["agent_token"]
    counts = {}
    for label, size, at in (
        ("3 new", 3, COLLECTED[0]),
        ("300 new", 300, COLLECTED[1]),
        ("300 known", 300, COLLECTED[2]),
    ):
        snapshot = make_snapshot(statements=size, collected_at=at)
        with statements_sent() as sent:
            assert post(client, token, snapshot) == 202
        counts[label] = len(sent)

    # Only the first sight of a fingerprint adds it to the catalog: one statement fewer after that.
    assert counts["3 new"] == counts["300 new"] == counts["300 known"] + 1
    with psycopg.connect(metadata_url) as conn:
        assert conn.execute("SELECT count(*) FROM statements").fetchone() == (300,)
        assert conn.execute("SELECT count(*) FROM statement_stats").fetchone() == (603,)


def test_a_known_statement_is_not_rewritten_by_every_snapshot(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    token = register_database(client, acme)["agent_token"]

    def catalog() -> list[tuple[str, Any]]:
        with psycopg.connect(metadata_url) as conn:
            return conn.execute("SELECT fingerprint, xmin::text FROM statements ORDER BY 1").fetchall()

    assert post(client, token, make_snapshot(collected_at=COLLECTED[0])) == 202
    first = catalog()
    assert post(client, token, make_snapshot(collected_at=COLLECTED[1])) == 202

    assert catalog() == first  # same row versions: untouched (last_seen_at moves at most hourly)


def test_without_a_range_the_window_starts_on_the_hour_a_day_back(
    client: TestClient, acme: SeededTenant
) -> None:
    database = register_database(client, acme)
    start = (datetime.now(UTC) - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    # Statement 0 just inside the window, statement 1 just before it (a snapshot carries one each).
    assert post(client, database["agent_token"], make_snapshot(statements=1, collected_at=start)) == 202
    before = make_snapshot(statements=2, collected_at=start - timedelta(microseconds=1))
    assert (
        post(client, database["agent_token"], before.model_copy(update={"statements": before.statements[1:]}))
        == 202
    )

    rows = top(client, as_user(client, acme, "viewer"), database["id"])

    assert [r["fingerprint"] for r in rows] == [fingerprint(0)]


def test_a_statement_that_ran_only_in_the_cut_hours_of_the_first_day_is_not_listed(
    client: TestClient, acme: SeededTenant
) -> None:
    # From 03:00 of a past day to now: that day is read as its daily rollup less its hours before
    # 03:00, so statement 1 (02:59 only) nets to zero calls. It was listed with 0 calls; the test
    # above only takes this path when it runs between 01:00 and 11:59 UTC, so CI saw it by the hour.
    database = register_database(client, acme)
    since = DAY + timedelta(hours=3)
    assert post(client, database["agent_token"], make_snapshot(statements=1, collected_at=since)) == 202
    before = make_snapshot(statements=2, collected_at=since - timedelta(minutes=1))
    only_1 = before.model_copy(update={"statements": before.statements[1:]})
    assert post(client, database["agent_token"], only_1) == 202

    viewer = as_user(client, acme, "viewer")
    rows = top(
        client, viewer, database["id"], **{"from": since.isoformat(), "to": datetime.now(UTC).isoformat()}
    )

    assert [r["fingerprint"] for r in rows] == [fingerprint(0)]
    assert rows[0]["calls"] > 0


def test_a_statement_seen_again_after_an_hour_has_its_last_seen_at_moved(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    token = register_database(client, acme)["agent_token"]
    assert post(client, token, make_snapshot(statements=2, collected_at=COLLECTED[0])) == 202
    with psycopg.connect(metadata_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE statements SET last_seen_at = now() - interval '2 hours' WHERE fingerprint = %s",
            [fingerprint(0)],
        )

    assert post(client, token, make_snapshot(statements=2, collected_at=COLLECTED[1])) == 202

    with psycopg.connect(metadata_url) as conn:
        ages = conn.execute(
            "SELECT fingerprint, now() - last_seen_at < interval '1 minute' FROM statements ORDER BY fingerprint"
        ).fetchall()
    assert dict(ages) == {fingerprint(0): True, fingerprint(1): True}


def test_ranges_of_days_read_whole_days_rolled_up_and_still_equal_the_intervals(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    database = register_database(client, acme)
    start = DAY - timedelta(days=3)  # four days: 22:40 on the first, then 03:10 and 21:50 on each
    collected = [start + timedelta(hours=22, minutes=40)] + [
        start + timedelta(days=d, hours=h, minutes=m) for d in (1, 2, 3) for h, m in ((3, 10), (21, 50))
    ]
    for number, at in enumerate(collected):
        assert (
            post(
                client,
                database["agent_token"],
                make_snapshot(statements=3, collected_at=at, calls=number + 1),
            )
            == 202
        )
    viewer = as_user(client, acme, "viewer")
    ranges = {
        "two whole days and both edges cut": (
            start + timedelta(hours=22),
            start + timedelta(days=3, hours=4),
        ),
        "from midnight to midnight": (start + timedelta(days=1), start + timedelta(days=3)),
        "a day and a half": (start + timedelta(days=1, hours=12), start + timedelta(days=3, hours=22)),
        "everything": (start, start + timedelta(days=4)),
    }

    for name, (since, until) in ranges.items():
        rows = top(client, viewer, database["id"], **{"from": since.isoformat(), "to": until.isoformat()})
        expected = raw_sums(metadata_url, database["id"], since, until)
        assert expected, name
        assert {r["fingerprint"]: (r["calls"], r["total_exec_time_ms"]) for r in rows} == expected, name


def test_sums_past_what_a_bigint_holds_are_read_exactly_not_refused(
    client: TestClient, acme: SeededTenant
) -> None:
    # Top queries add bigint counters up as bigint (db.counter_sums); two hours of 2**62 calls
    # each are 2**63, one more than a bigint holds. No server counts that many; a forged snapshot
    # may, and its tenant's page still reads, with the exact sums.
    database = register_database(client, acme)
    huge = 2**62
    for at in (DAY + timedelta(hours=10, minutes=5), DAY + timedelta(hours=11, minutes=5)):
        assert (
            post(client, database["agent_token"], make_snapshot(statements=1, collected_at=at, calls=huge))
            == 202
        )
    viewer = as_user(client, acme, "viewer")

    rows = top(
        client,
        viewer,
        database["id"],
        **{"from": DAY.isoformat(), "to": (DAY + timedelta(days=1)).isoformat()},
    )

    assert [(row["calls"], row["rows"]) for row in rows] == [(2 * huge, 2 * huge)]
