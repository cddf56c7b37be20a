"""Statements sent without their text (schema version 3): counted from their first snapshot, listed
once a snapshot brings their text, whatever order the snapshots are stored in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
from fastapi.testclient import TestClient

from tests.integration.control_plane.api.conftest import SeededTenant, as_user, bearer, register_database
from tests.integration.control_plane.api.snapshots import as_json, fingerprint, make_snapshot, without_texts
from tests.integration.control_plane.inbox import drain_inbox


def listed_calls(client: TestClient, tenant: SeededTenant, database_id: str) -> dict[str, int]:
    response = client.get(
        f"/api/v1/databases/{database_id}/queries?limit=50", headers=as_user(client, tenant, "viewer")
    )
    assert response.status_code == 200, response.text
    return {row["fingerprint"]: row["calls"] for row in response.json()}


def raw_calls(metadata_url: str, statement: str) -> int:
    with psycopg.connect(metadata_url) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(calls), 0) FROM statement_stats WHERE fingerprint = %s", (statement,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_statement_without_its_text_is_counted_at_once_and_listed_when_its_text_arrives(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    database = register_database(client, acme)
    agent = bearer(database["agent_token"])
    start = datetime.now(UTC) - timedelta(minutes=10)
    first = as_json(make_snapshot(statements=2, collected_at=start, calls=10))
    # Statement 2 is new, and its text travelled in a snapshot the control plane has not stored:
    # it comes without it.
    second = without_texts(make_snapshot(statements=3, collected_at=start + timedelta(seconds=30)), 0, 1, 2)
    third = as_json(make_snapshot(statements=3, collected_at=start + timedelta(seconds=60), calls=100))

    for body in (first, second):
        response = client.post("/api/v1/agent/snapshots", json=body, headers=agent)
        assert response.status_code == 202, response.text
        assert drain_inbox(client) == 1

    assert listed_calls(client, acme, database["id"]) == {fingerprint(0): 10 + 10, fingerprint(1): 20 + 20}
    assert raw_calls(metadata_url, fingerprint(2)) == 30  # counted, though not listed yet
    detail = client.get(
        f"/api/v1/databases/{database['id']}/queries/{fingerprint(2)}",
        headers=as_user(client, acme, "viewer"),
    )
    assert detail.status_code == 404

    assert client.post("/api/v1/agent/snapshots", json=third, headers=agent).status_code == 202
    assert drain_inbox(client) == 1

    assert listed_calls(client, acme, database["id"]) == {
        fingerprint(0): 10 + 10 + 100,
        fingerprint(1): 20 + 20 + 200,
        fingerprint(2): 30 + 300,
    }
    detail = client.get(
        f"/api/v1/databases/{database['id']}/queries/{fingerprint(2)}",
        headers=as_user(client, acme, "viewer"),
    )
    assert detail.status_code == 200
    assert detail.json()["query"] == "SELECT * FROM orders WHERE customer_id = $1 AND shard = 2"


def test_a_batch_takes_a_new_statement_s_text_from_whichever_snapshot_carries_it(
    client: TestClient, acme: SeededTenant
) -> None:
    database = register_database(client, acme)
    agent = bearer(database["agent_token"])
    start = datetime.now(UTC) - timedelta(minutes=10)
    # Stored together in one batch: the earlier snapshot lacks the text, the later one has it.
    earlier = without_texts(make_snapshot(statements=2, collected_at=start), 0, 1)
    later = as_json(make_snapshot(statements=2, collected_at=start + timedelta(seconds=30)))

    for body in (earlier, later):
        assert client.post("/api/v1/agent/snapshots", json=body, headers=agent).status_code == 202
    assert drain_inbox(client) == 2

    assert listed_calls(client, acme, database["id"]) == {fingerprint(0): 20, fingerprint(1): 40}
