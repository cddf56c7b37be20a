"""Top queries for the dashboard's table: rows per call, cache hit %, block reads and temp blocks
summed exactly like calls and time (rollups for whole hours, raw rows for cut ones), search in the
text (which finds table names), paging with X-Total-Count, and the page as CSV or a JSON file."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from shared.wire.snapshot import StatementStats
from tests.integration.control_plane.api.conftest import SeededTenant, as_user, bearer, register_database
from tests.integration.control_plane.api.snapshots import as_json, fingerprint, make_snapshot
from tests.integration.control_plane.inbox import drain_inbox

DAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)
# Two hours: 10:20 and 10:50 in the first, 11:10 and 11:40 in the second.
COLLECTED = [DAY + timedelta(hours=10, minutes=m) for m in (20, 50, 70, 100)]
TEXTS = {
    0: "SELECT * FROM orders WHERE customer_id = $1",
    1: "UPDATE customers SET name = $1 WHERE id = $2",
    2: "SELECT sum(quantity) FROM Order_Items WHERE product_id = $1",
    3: "DELETE FROM sessions WHERE expires_at < $1",
}


def counters(n: int, k: int) -> StatementStats:
    """Statement n in snapshot k: different numbers everywhere, so a wrong sum cannot match."""
    return StatementStats(
        fingerprint=fingerprint(n),
        query=TEXTS[n],
        statement_type="select",
        calls=(n + 1) * (k + 2),
        rows=7 * n + k,
        total_exec_time_ms=float(100 * (n + 1) + k),
        shared_blks_hit=0 if n == 3 else 90 * (n + 1) + k,  # statement 3 touches no blocks at all
        shared_blks_read=0 if n == 3 else 10 * n + k,
        temp_blks_written=5 * n * k,
    )


def seed(client: TestClient, tenant: SeededTenant) -> str:
    database = register_database(client, tenant)
    for k, at in enumerate(COLLECTED):
        snapshot = make_snapshot(collected_at=at).model_copy(
            update={"statements": [counters(n, k) for n in TEXTS]}
        )
        sent = client.post(
            "/api/v1/agent/snapshots", json=as_json(snapshot), headers=bearer(database["agent_token"])
        )
        assert sent.status_code == 202, sent.text
    drain_inbox(client)
    return database["id"]


def expected(n: int, snapshots: range) -> dict[str, Any]:
    rows = [counters(n, k) for k in snapshots]
    calls, returned = sum(r.calls for r in rows), sum(r.rows for r in rows)
    hit, read = sum(r.shared_blks_hit for r in rows), sum(r.shared_blks_read for r in rows)
    return {
        "calls": calls,
        "rows": returned,
        "rows_per_call": round(returned / calls, 3),
        "cache_hit_pct": round(100 * hit / (hit + read), 2) if hit + read else None,
        "shared_blks_read": read,
        "temp_blks_written": sum(r.temp_blks_written for r in rows),
        "total_exec_time_ms": sum(r.total_exec_time_ms for r in rows),
    }


def get(client: TestClient, headers: dict[str, str], database_id: str, **params: Any) -> Any:
    response = client.get(f"/api/v1/databases/{database_id}/queries", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response


def test_new_columns_are_the_sums_of_the_intervals_in_a_range_that_cuts_an_hour(
    client: TestClient, acme: SeededTenant
) -> None:
    database_id = seed(client, acme)
    viewer = as_user(client, acme, "viewer")
    # From 10:30 to the end of the day: the 10:20 snapshot is out, 10:50 read raw, 11:xx rolled up.
    cut = {
        "from": (DAY + timedelta(hours=10, minutes=30)).isoformat(),
        "to": (DAY + timedelta(days=1)).isoformat(),
    }

    rows = get(client, viewer, database_id, **cut).json()

    assert [r["fingerprint"] for r in rows] == [fingerprint(n) for n in (3, 2, 1, 0)]
    for row in rows:
        n = [fingerprint(i) for i in TEXTS].index(row["fingerprint"])
        want = expected(n, range(1, 4))
        assert {key: row[key] for key in want} == want, n
    assert rows[0]["cache_hit_pct"] is None  # statement 3 touched no blocks: no ratio, not 0 or 100


def test_search_finds_text_and_table_names_case_insensitively_and_pages_count_the_matches(
    client: TestClient, acme: SeededTenant
) -> None:
    database_id = seed(client, acme)
    viewer = as_user(client, acme, "viewer")
    day = {"from": DAY.isoformat(), "to": (DAY + timedelta(days=1)).isoformat()}

    everything = get(client, viewer, database_id, **day)
    first_page = get(client, viewer, database_id, limit=3, **day)
    second_page = get(client, viewer, database_id, limit=3, offset=3, **day)
    past_the_end = get(client, viewer, database_id, limit=3, offset=10, **day)
    orders = get(client, viewer, database_id, q="ORDER", **day)
    literal_percent = get(client, viewer, database_id, q="100%", **day)

    assert everything.headers["X-Total-Count"] == "4"
    assert [r["fingerprint"] for r in first_page.json() + second_page.json()] == [
        r["fingerprint"] for r in everything.json()
    ]
    assert len(first_page.json()) == 3 and first_page.headers["X-Total-Count"] == "4"
    assert second_page.headers["X-Total-Count"] == "4"
    assert past_the_end.json() == [] and past_the_end.headers["X-Total-Count"] == "4"
    assert {r["query"] for r in orders.json()} == {TEXTS[0], TEXTS[2]}  # orders and Order_Items
    assert orders.headers["X-Total-Count"] == "2"
    # The share of load stays the share of the database's time, not of the matches'.
    grand_total = sum(r["total_exec_time_ms"] for r in everything.json())
    assert [r["load_pct"] for r in orders.json()] == [
        round(100 * r["total_exec_time_ms"] / grand_total, 2) for r in orders.json()
    ]
    assert literal_percent.json() == [] and literal_percent.headers["X-Total-Count"] == "0"


def test_the_page_downloads_as_csv_and_as_a_json_file_with_every_column(
    client: TestClient, acme: SeededTenant
) -> None:
    database_id = seed(client, acme)
    viewer = as_user(client, acme, "viewer")
    page = {"from": DAY.isoformat(), "to": (DAY + timedelta(days=1)).isoformat(), "limit": 2, "offset": 1}

    shown = get(client, viewer, database_id, **page)
    as_csv = get(client, viewer, database_id, format="csv", **page)
    as_file = get(client, viewer, database_id, format="json", **page)

    assert not shown.headers.get("content-disposition")
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_file.headers["content-type"].startswith("application/json")
    assert as_file.headers["content-disposition"] == f'attachment; filename="queries_{database_id}.json"'
    assert as_csv.headers["X-Total-Count"] == as_file.headers["X-Total-Count"] == "4"
    assert json.loads(as_file.content) == shown.json()
    table = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert list(table[0]) == list(shown.json()[0])
    for cells, row in zip(table, shown.json(), strict=True):
        assert cells["fingerprint"] == row["fingerprint"]
        assert (
            int(cells["rows"]) == row["rows"] and int(cells["temp_blks_written"]) == row["temp_blks_written"]
        )
        assert float(cells["rows_per_call"]) == row["rows_per_call"]
        assert float(cells["cache_hit_pct"]) == row["cache_hit_pct"]
