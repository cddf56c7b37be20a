"""Ingestion: idempotent on snapshot_id, gzip accepted, every malformed body rejected whole."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta

import psycopg
from fastapi.testclient import TestClient

from shared.wire.snapshot import ColumnStats, TableStats
from tests.integration.control_plane.api.conftest import SeededTenant, as_user, bearer, register_database
from tests.integration.control_plane.api.snapshots import as_json, make_snapshot
from tests.integration.control_plane.inbox import drain_inbox
from tests.unit.ship.snapshots import make_snapshot as shipped_snapshot


def stored_counts(metadata_url: str) -> tuple[int, int]:
    with psycopg.connect(metadata_url) as conn:
        snapshots = conn.execute("SELECT count(*) FROM snapshots").fetchone()
        stats = conn.execute("SELECT count(*) FROM statement_stats").fetchone()
    assert snapshots and stats
    return int(snapshots[0]), int(stats[0])


def test_the_same_snapshot_posted_three_times_is_stored_once(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    agent = bearer(register_database(client, acme)["agent_token"])
    body = as_json(make_snapshot(statements=4))

    answers = [client.post("/api/v1/agent/snapshots", json=body, headers=agent) for _ in range(2)]
    assert drain_inbox(client) == 1
    answers.append(client.post("/api/v1/agent/snapshots", json=body, headers=agent))  # stored by now

    assert [a.status_code for a in answers] == [202, 200, 200]
    assert [a.json()["duplicate"] for a in answers] == [False, True, True]
    assert stored_counts(metadata_url) == (1, 4)


def test_a_gzip_body_is_accepted(client: TestClient, acme: SeededTenant, metadata_url: str) -> None:
    agent = bearer(register_database(client, acme)["agent_token"])
    body = gzip.compress(json.dumps(as_json(make_snapshot(statements=2))).encode())

    response = client.post(
        "/api/v1/agent/snapshots",
        content=body,
        headers={**agent, "Content-Encoding": "gzip", "Content-Type": "application/json"},
    )

    assert response.status_code == 202
    drain_inbox(client)
    assert stored_counts(metadata_url) == (1, 2)


def test_malformed_bodies_get_a_4xx_with_a_message_and_store_nothing(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    agent = bearer(register_database(client, acme)["agent_token"])
    good = json.dumps(as_json(make_snapshot(statements=2))).encode()
    wrong_version = {**as_json(make_snapshot()), "schema_version": 99}
    negative = as_json(make_snapshot())
    negative["statements"][0]["calls"] = -5
    cases = {
        "truncated gzip": (gzip.compress(good)[:-20], {"Content-Encoding": "gzip"}, 400),
        "gzip header, broken stream": (
            gzip.compress(good)[:10] + b"\xff" * 64,
            {"Content-Encoding": "gzip"},
            400,
        ),
        "said gzip, is not": (good, {"Content-Encoding": "gzip"}, 400),
        "gzip with bytes after it": (gzip.compress(good) + b"junk", {"Content-Encoding": "gzip"}, 400),
        "wrong schema version": (json.dumps(wrong_version).encode(), {}, 422),
        "50 MB body": (b"{" + b" " * (50 * 1024 * 1024) + b"}", {}, 413),
        "negative counter": (json.dumps(negative).encode(), {}, 422),
        "not JSON": (b"hello", {}, 400),
    }

    for name, (body, extra, expected) in cases.items():
        response = client.post(
            "/api/v1/agent/snapshots",
            content=body,
            headers={**agent, "Content-Type": "application/json", **extra},
        )
        assert response.status_code == expected, (name, response.text)
        assert response.json()["detail"]["message"], name

    assert stored_counts(metadata_url) == (0, 0)
    version_answer = client.post(
        "/api/v1/agent/snapshots", content=json.dumps(wrong_version).encode(), headers=agent
    ).json()
    assert version_answer["detail"]["code"] == "unsupported_schema_version"


def test_heartbeat_and_snapshots_show_in_the_database_list(client: TestClient, acme: SeededTenant) -> None:
    agent = bearer(register_database(client, acme)["agent_token"])

    client.post("/api/v1/agent/snapshots", json=as_json(make_snapshot()), headers=agent)
    drain_inbox(client)

    (database,) = client.get("/api/v1/databases", headers=as_user(client, acme, "viewer")).json()
    assert database["agent_last_seen_at"] is not None
    assert database["server_version"] == "15.20"


def test_the_schema_is_stored_as_the_wire_model_writes_it_and_an_older_one_never_replaces_it(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    agent = bearer(register_database(client, acme)["agent_token"])
    orders = TableStats(
        schema_name="public",
        name="orders",
        row_estimate=1.5e6,
        total_bytes=3 << 30,
        table_bytes=2 << 30,
        index_bytes=1 << 30,
        n_live_tup=1_500_000,
        last_autovacuum=datetime(2026, 12, 1, 3, 4, 5, 678_000, tzinfo=UTC),
        columns=[
            ColumnStats(name="id", type="bigint", not_null=True, n_distinct=-1.0, correlation=0.98),
            ColumnStats(name="note", type="text", not_null=False, null_frac=0.25, avg_width=31),
        ],
    )
    # The shipping tests' primary key, its definition left out as the agent does one it cannot scrub.
    key = shipped_snapshot().indexes[0].model_copy(update={"definition": None, "idx_scan": 7})
    newer = make_snapshot().model_copy(update={"tables": [orders], "indexes": [key]})
    # A different schema, sent late: it must not replace the newer one.
    older = make_snapshot(collected_at=newer.collected_at - timedelta(minutes=5))

    for snapshot in (newer, older):
        assert (
            client.post("/api/v1/agent/snapshots", json=as_json(snapshot), headers=agent).status_code == 202
        )
        drain_inbox(client)

    with psycopg.connect(metadata_url) as conn:
        row = conn.execute("SELECT collected_at, tables, indexes FROM database_schemas").fetchone()
    assert row == (newer.collected_at, [orders.model_dump(mode="json")], [key.model_dump(mode="json")])
