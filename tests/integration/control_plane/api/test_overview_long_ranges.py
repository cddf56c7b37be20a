"""The overview over days: ideas ranked by the time their statements took over the whole range, read
from the daily rollups for whole days and the hourly ones around them, first snapshots taken out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from shared.wire.advice import QueryEvidence
from shared.wire.snapshot import IntervalInfo, Snapshot
from tests.integration.control_plane.api.conftest import SeededTenant, as_user, bearer, register_database
from tests.integration.control_plane.api.snapshots import as_json, fingerprint, make_snapshot
from tests.integration.control_plane.changes.flow import finding, report
from tests.integration.control_plane.inbox import drain_inbox


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def only(snapshot: Snapshot, *statements: int) -> Snapshot:
    kept = {fingerprint(n) for n in statements}
    return snapshot.model_copy(
        update={"statements": [s for s in snapshot.statements if s.fingerprint in kept]}
    )


def test_ideas_are_ranked_by_the_time_saved_over_every_day_of_the_range(
    client: TestClient, acme: SeededTenant
) -> None:
    database = register_database(client, acme)
    agent = bearer(database["agent_token"])
    now = datetime.now(UTC)
    first = make_snapshot(collected_at=now - timedelta(days=4, minutes=1))
    first = first.model_copy(  # a month of statement 0 since the last reset: not load in the range
        update={
            "interval": IntervalInfo(
                kind="since_reset", started_at=None, ended_at=first.collected_at, seconds=None
            ),
            "statements": [
                s.model_copy(update={"total_exec_time_ms": 9e8}) for s in only(first, 0).statements
            ],
        }
    )
    narrow_gain = finding(improvement=99.9, key="a")  # serves statement 0: 100 ms, an hour ago
    busy_long_ago = finding(improvement=50.0, key="b").model_copy(
        update={
            "queries": [
                QueryEvidence(
                    fingerprint=fingerprint(2), query="SELECT 2", calls=1, cost_before=10.0, cost_after=5.0
                )
            ]
        }
    )  # serves statement 2: 300 ms three days ago and 300 ms two days ago, none since
    snapshots = [
        first,
        only(make_snapshot(collected_at=now - timedelta(days=3)), 2),
        only(make_snapshot(collected_at=now - timedelta(days=2)), 2),
        only(make_snapshot(collected_at=now - timedelta(hours=1)), 0).model_copy(
            update={"findings": report(narrow_gain, busy_long_ago)}
        ),
    ]
    for snapshot in snapshots:
        sent = client.post("/api/v1/agent/snapshots", json=as_json(snapshot), headers=agent)
        assert sent.status_code == 202, sent.text
    drain_inbox(client)
    viewer = as_user(client, acme, "viewer")
    at = f"/api/v1/databases/{database['id']}/overview"

    five_days = client.get(f"{at}?from={iso(now - timedelta(days=5))}", headers=viewer).json()
    two_hours = client.get(f"{at}?from={iso(now - timedelta(hours=2))}", headers=viewer).json()

    # 50% of 600 ms saves more than 99.9% of 100 ms; the first snapshot's 9e8 ms would reverse it.
    assert [r["improvement_pct"] for r in five_days["recommendations"]] == [50.0, 99.9]
    assert [r["improvement_pct"] for r in two_hours["recommendations"]] == [99.9, 50.0]
    assert sum(p["total_exec_time_ms"] for p in five_days["load"]) == 700.0
