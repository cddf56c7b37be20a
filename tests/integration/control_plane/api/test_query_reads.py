"""Reading the workload back: top queries with share of load, one query with series and plan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tests.integration.control_plane.api.conftest import SeededTenant, as_user, bearer, register_database
from tests.integration.control_plane.api.snapshots import as_json, fingerprint, make_snapshot
from tests.integration.control_plane.inbox import drain_inbox


def test_top_queries_are_ordered_with_their_share_of_load(client: TestClient, acme: SeededTenant) -> None:
    database = register_database(client, acme)
    agent = bearer(database["agent_token"])
    now = datetime.now(UTC)
    for minutes_ago in (10, 5):
        snapshot = make_snapshot(statements=3, collected_at=now - timedelta(minutes=minutes_ago))
        assert (
            client.post("/api/v1/agent/snapshots", json=as_json(snapshot), headers=agent).status_code == 202
        )
    drain_inbox(client)

    top = client.get(
        f"/api/v1/databases/{database['id']}/queries?limit=2", headers=as_user(client, acme, "viewer")
    )

    assert top.status_code == 200
    first, second = top.json()
    assert first["fingerprint"] == fingerprint(2)  # 300 ms per snapshot, the largest
    assert first["total_exec_time_ms"] == 600.0 and first["calls"] == 60
    assert first["mean_exec_time_ms"] == 10.0
    assert first["load_pct"] == 50.0  # 600 of 1,200 ms
    assert second["fingerprint"] == fingerprint(1)


def test_one_query_has_its_series_and_latest_plan(client: TestClient, acme: SeededTenant) -> None:
    database = register_database(client, acme)
    agent = bearer(database["agent_token"])
    client.post("/api/v1/agent/snapshots", json=as_json(make_snapshot()), headers=agent)
    drain_inbox(client)

    detail = client.get(
        f"/api/v1/databases/{database['id']}/queries/{fingerprint(0)}",
        headers=as_user(client, acme, "viewer"),
    )
    missing = client.get(
        f"/api/v1/databases/{database['id']}/queries/{'0' * 16}", headers=as_user(client, acme, "viewer")
    )

    assert detail.status_code == 200
    body = detail.json()
    assert body["query"].startswith("SELECT * FROM orders")
    assert len(body["series"]) == 1 and body["series"][0]["calls"] == 10
    assert body["plan"] == {"Node Type": "Seq Scan"}
    assert body["explanation"] is None and body["recommendations"] == []
    assert missing.status_code == 404


def test_deleting_a_database_removes_its_data(client: TestClient, acme: SeededTenant) -> None:
    database = register_database(client, acme)
    client.post(
        "/api/v1/agent/snapshots", json=as_json(make_snapshot()), headers=bearer(database["agent_token"])
    )
    drain_inbox(client)
    admin = as_user(client, acme, "admin")

    assert client.delete(f"/api/v1/databases/{database['id']}", headers=admin).status_code == 204

    assert client.get("/api/v1/databases", headers=admin).json() == []
    assert client.get(f"/api/v1/databases/{database['id']}/queries", headers=admin).status_code == 404
    assert (
        client.post(
            "/api/v1/agent/heartbeat", json={"agent_version": "1"}, headers=bearer(database["agent_token"])
        ).status_code
        == 401
    )
