"""GET /databases/{id}/overview: agent status, KPIs from the latest snapshot, load without the first
snapshot's spike, and the open recommendations ranked by the time they would save."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from control_plane.overview.service import agent_status
from shared.wire.advice import QueryEvidence
from shared.wire.snapshot import IntervalInfo, ServerInfo, Snapshot
from tests.integration.control_plane.api.conftest import SeededTenant, as_user, bearer, register_database
from tests.integration.control_plane.api.snapshots import as_json, fingerprint, make_snapshot
from tests.integration.control_plane.changes.flow import finding, report
from tests.integration.control_plane.inbox import drain_inbox


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def server(tps: float | None, ratio: float | None, active: int) -> ServerInfo:
    return ServerInfo(
        version="16.4",
        version_num=160004,
        is_replica=False,
        settings={"max_connections": "100", "work_mem": "4096kB"},
        cache_hit_ratio=ratio,
        connections_by_state={"active": active, "idle": 5},
        transactions_per_second=tps,
    )


def first_snapshot(at: datetime) -> Snapshot:
    """An agent's first: counters since the last reset (a month of work), no interval length."""
    snapshot = make_snapshot(collected_at=at, calls=100_000)
    return snapshot.model_copy(
        update={
            "interval": IntervalInfo(kind="since_reset", started_at=None, ended_at=at, seconds=None),
            "server": server(None, 0.5, 1),
            "statements": [s.model_copy(update={"total_exec_time_ms": 9e8}) for s in snapshot.statements],
        }
    )


def interval_snapshot(at: datetime, tps: float, ratio: float, active: int, **extra: Any) -> Snapshot:
    return make_snapshot(collected_at=at).model_copy(update={"server": server(tps, ratio, active), **extra})


def test_a_database_without_an_agent_has_honest_nulls(client: TestClient, acme: SeededTenant) -> None:
    database = register_database(client, acme)

    body = client.get(
        f"/api/v1/databases/{database['id']}/overview", headers=as_user(client, acme, "viewer")
    ).json()

    assert body["agent"] == {"status": "never", "last_seen_at": None, "version": None}
    assert {body["kpis"][k] for k in ("tps", "active_connections", "max_connections", "cache_hit_ratio")} == {
        None
    }
    assert set(body["kpis"]["missing"]) == {"tps", "active_connections", "max_connections", "cache_hit_ratio"}
    assert body["load"] == [] and body["recommendations"] == []


def test_overview_from_snapshots_leaves_out_the_first_snapshot_and_ranks_ideas_by_time_saved(
    client: TestClient, acme: SeededTenant
) -> None:
    database = register_database(client, acme)
    agent = bearer(database["agent_token"])
    t0 = datetime.now(UTC) - timedelta(minutes=2)
    narrow_gain = finding(improvement=99.9, key="a")  # serves statement 0: 100 ms per interval
    busy = finding(improvement=50.0, key="b").model_copy(
        update={
            "queries": [
                QueryEvidence(
                    fingerprint=fingerprint(2), query="SELECT 2", calls=1, cost_before=10.0, cost_after=5.0
                )
            ]
        }
    )  # serves statement 2: 300 ms per interval, so half of it saves more than 99.9% of statement 0
    snapshots = [
        first_snapshot(t0),
        interval_snapshot(t0 + timedelta(seconds=30), tps=12.5, ratio=0.9, active=2),
        interval_snapshot(
            t0 + timedelta(seconds=60), tps=20.0, ratio=0.99, active=3, findings=report(narrow_gain, busy)
        ),
    ]
    for snapshot in snapshots:
        sent = client.post("/api/v1/agent/snapshots", json=as_json(snapshot), headers=agent)
        assert sent.status_code == 202, sent.text
    drain_inbox(client)
    viewer = as_user(client, acme, "viewer")
    at = f"/api/v1/databases/{database['id']}/overview"

    recent = client.get(
        f"{at}?from={iso(t0 - timedelta(minutes=1))}&to={iso(t0 + timedelta(minutes=2))}", headers=viewer
    ).json()
    day = client.get(at, headers=viewer).json()

    assert recent["agent"]["status"] == "online" and recent["agent"]["version"] == snapshots[0].agent_version
    assert recent["kpis"] | {"measured_at": None} == {
        "tps": 20.0,
        "active_connections": 3,
        "max_connections": 100,
        "cache_hit_ratio": 0.99,
        "measured_at": None,
        "missing": {},
    }
    assert recent["load_resolution"] == "interval"
    assert [(p["total_exec_time_ms"], p["calls"]) for p in recent["load"]] == [(600.0, 60), (600.0, 60)]
    assert day["load_resolution"] == "hour"  # by the hour, the first snapshot taken out of its hour
    assert sum(p["total_exec_time_ms"] for p in day["load"]) == 1200.0
    assert sum(p["calls"] for p in day["load"]) == 120
    assert [r["improvement_pct"] for r in recent["recommendations"]] == [50.0, 99.9]
    assert all(r["allowed_actions"] == [] for r in recent["recommendations"])  # a viewer's


def test_agent_status_thresholds_are_multiples_of_the_poll_interval() -> None:
    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)

    def seen(seconds_ago: float) -> str:
        return agent_status(now - timedelta(seconds=seconds_ago), now, poll_interval_s=30.0)

    assert agent_status(None, now, 30.0) == "never"
    assert (seen(0), seen(90), seen(91), seen(300), seen(301)) == (
        "online",
        "online",
        "late",
        "late",
        "offline",
    )
