"""What a recommendation card says beside its evidence: when the evidence was measured (refreshed by
newer snapshots, never by a late one), and the risk of an index change: its lock, size, build time,
and the writes per second on its table."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fastapi.testclient import TestClient

from control_plane.recommendations.risk import BUILD_BYTES_PER_SECOND, btree_bytes
from shared.version import PRODUCT_VERSION
from shared.wire.advice import AdviceReport, QueryEvidence, Recommendation
from shared.wire.snapshot import (
    ColumnStats,
    IndexStats,
    IntervalInfo,
    ServerInfo,
    Snapshot,
    StatementStats,
    StatementType,
    TableStats,
)
from tests.integration.control_plane.api.conftest import SeededTenant, as_user, bearer, register_database
from tests.integration.control_plane.api.snapshots import fingerprint
from tests.integration.control_plane.inbox import drain_inbox

INDEX_KEY = "create_index:public.orders(customer_id,status)"
DROP_KEY = "drop_index:public.orders_note_idx"
ORDERS = TableStats(
    schema_name="public",
    name="orders",
    row_estimate=2_000_000,
    total_bytes=300_000_000,
    table_bytes=210_000_000,
    index_bytes=90_000_000,
    columns=[
        ColumnStats(name="customer_id", type="bigint", not_null=True, null_frac=0.0, avg_width=8),
        ColumnStats(name="status", type="text", not_null=True, null_frac=0.0, avg_width=9),
    ],
)
NOTE_INDEX = IndexStats(
    schema_name="public",
    table="orders",
    name="orders_note_idx",
    definition="CREATE INDEX orders_note_idx ON public.orders USING btree (note)",
    columns=["note"],
    access_method="btree",
    is_unique=False,
    is_primary=False,
    is_valid=True,
    is_partial=False,
    backs_constraint=False,
    size_bytes=123_456_789,
)


def index_finding(calls: int = 325) -> Recommendation:
    return Recommendation(
        id=INDEX_KEY,
        kind="create_index",
        tier="verified",
        sql="CREATE INDEX CONCURRENTLY orders_customer_id_status_idx ON public.orders (customer_id, status);",
        rollback_sql="DROP INDEX CONCURRENTLY IF EXISTS public.orders_customer_id_status_idx;",
        table="public.orders",
        columns=["customer_id", "status"],
        improvement_pct=99.0,
        queries=[
            QueryEvidence(
                fingerprint=fingerprint(0),
                query="SELECT * FROM orders WHERE customer_id = $1 AND status = $2",
                calls=calls,
                cost_before=8291.1,
                cost_after=8.07,
            )
        ],
        rationale="HypoPG: the planner uses the index.",
    )


def drop_finding() -> Recommendation:
    return Recommendation(
        id=DROP_KEY,
        kind="drop_index",
        tier="advisory",
        sql="DROP INDEX CONCURRENTLY IF EXISTS public.orders_note_idx;",
        table="public.orders",
        columns=["note"],
        rationale="Never scanned since statistics were reset.",
    )


def config_finding() -> Recommendation:
    return Recommendation(
        id="config:work_mem",
        kind="config",
        tier="advisory",
        sql="SET work_mem = '64MB';",
        rationale="Sorts spill.",
    )


def statement(n: int, kind: StatementType, relation: str, rows: int) -> StatementStats:
    return StatementStats(
        fingerprint=fingerprint(n),
        query=f"{kind} on {relation} number {n}",
        statement_type=kind,
        relations=[relation],
        calls=max(rows, 1),
        rows=rows,
        total_exec_time_ms=1.0,
    )


def snapshot(
    collected_at: datetime,
    statements: list[StatementStats],
    *findings: Recommendation,
    kind: Literal["delta", "since_reset"] = "delta",
) -> dict[str, Any]:
    body = Snapshot(
        snapshot_id=uuid.uuid4(),
        agent_version=PRODUCT_VERSION,
        collected_at=collected_at,
        database_name="shop",
        interval=IntervalInfo(
            kind=kind,
            started_at=collected_at - timedelta(seconds=30) if kind == "delta" else None,
            ended_at=collected_at,
            seconds=30.0 if kind == "delta" else None,
        ),
        server=ServerInfo(version="15.20", version_num=150020, is_replica=False),
        statements=statements,
        tables=[ORDERS],
        indexes=[NOTE_INDEX],
        findings=AdviceReport(
            server_version="15.20", hypopg=True, statements_analyzed=1, recommendations=list(findings)
        )
        if findings
        else None,
    )
    return body.model_dump(mode="json")


def send(client: TestClient, agent: dict[str, str], body: dict[str, Any]) -> None:
    response = client.post("/api/v1/agent/snapshots", json=body, headers=agent)
    assert response.status_code == 202, response.text
    drain_inbox(client)


def listed(client: TestClient, tenant: SeededTenant, database_id: str) -> dict[str, dict[str, Any]]:
    response = client.get(
        f"/api/v1/databases/{database_id}/recommendations", headers=as_user(client, tenant, "viewer")
    )
    assert response.status_code == 200, response.text
    by_kind: dict[str, dict[str, Any]] = {found["kind"]: found for found in response.json()}
    return by_kind


def parsed(at: str) -> datetime:
    return datetime.fromisoformat(at)


def test_an_index_card_gives_its_lock_size_build_time_and_the_tables_writes_per_second(
    client: TestClient, acme: SeededTenant
) -> None:
    database = register_database(client, acme)
    agent = bearer(database["agent_token"])
    start = datetime.now(UTC) - timedelta(minutes=10)
    # Two 30-second snapshots. Writes on public.orders, named qualified and bare: 600 + 300 rows,
    # then 300; writes on another table and reads of this one do not count.
    send(
        client,
        agent,
        snapshot(
            start,
            [
                statement(1, "insert", "public.orders", 600),
                statement(2, "update", "orders", 300),
                statement(3, "delete", "public.customers", 999),
                statement(4, "select", "orders", 5000),
            ],
        ),
    )
    send(
        client,
        agent,
        snapshot(
            start + timedelta(seconds=30),
            [statement(1, "insert", "public.orders", 300), statement(4, "select", "orders", 5000)],
            index_finding(),
            drop_finding(),
            config_finding(),
        ),
    )

    cards = listed(client, acme, database["id"])

    size = btree_bytes(2_000_000, 8 + 9)
    assert size == 81_092_608  # 2M entries of 32 bytes and a line pointer, leaves 90% full
    create = cards["create_index"]["risk"]
    assert create["lock"].startswith("SHARE UPDATE EXCLUSIVE on the table (CREATE INDEX CONCURRENTLY)")
    assert (create["estimated_size_bytes"], create["estimated_build_seconds"]) == (
        size,
        round(size / BUILD_BYTES_PER_SECOND, 1),
    )
    assert (create["table_writes_per_second"], create["writes_window_seconds"]) == (20.0, 60.0)  # 1200 / 60 s
    assert create["size_basis"].startswith("B-tree estimate: 2,000,000 rows x 17 bytes of key")
    drop = cards["drop_index"]["risk"]
    assert drop["lock"].startswith("SHARE UPDATE EXCLUSIVE on the table, then ACCESS EXCLUSIVE on the index")
    assert (drop["estimated_size_bytes"], drop["estimated_build_seconds"]) == (123_456_789, 14.7)
    assert drop["table_writes_per_second"] == 20.0
    assert cards["config"]["risk"] is None
    assert "timeline" not in cards["create_index"]
    detail = client.get(
        f"/api/v1/recommendations/{cards['create_index']['id']}", headers=as_user(client, acme, "viewer")
    ).json()
    assert detail["risk"] == create


def test_writes_per_second_are_unknown_until_a_snapshot_measures_an_interval(
    client: TestClient, acme: SeededTenant
) -> None:
    database = register_database(client, acme)
    agent = bearer(database["agent_token"])
    at = datetime.now(UTC) - timedelta(minutes=5)
    # An agent's first snapshot carries counters since the last reset: no rate can be read from it.
    send(
        client,
        agent,
        snapshot(at, [statement(1, "insert", "orders", 600)], index_finding(), kind="since_reset"),
    )
    assert listed(client, acme, database["id"])["create_index"]["risk"]["table_writes_per_second"] is None

    send(client, agent, snapshot(at + timedelta(seconds=30), [statement(4, "select", "orders", 10)]))
    risk = listed(client, acme, database["id"])["create_index"]["risk"]
    assert (risk["table_writes_per_second"], risk["writes_window_seconds"]) == (0.0, 30.0)  # measured: none


def test_a_newer_snapshot_refreshes_the_evidence_and_a_late_older_one_does_not(
    client: TestClient, acme: SeededTenant
) -> None:
    database = register_database(client, acme)
    agent = bearer(database["agent_token"])
    first = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    send(client, agent, snapshot(first, [], index_finding(calls=325)))
    card = listed(client, acme, database["id"])["create_index"]
    assert (card["queries"][0]["calls"], parsed(card["evidence_at"])) == (325, first)

    send(client, agent, snapshot(first + timedelta(hours=1), [], index_finding(calls=900)))
    refreshed = listed(client, acme, database["id"])["create_index"]
    assert refreshed["id"] == card["id"]
    assert (refreshed["queries"][0]["calls"], parsed(refreshed["evidence_at"])) == (
        900,
        first + timedelta(hours=1),
    )

    # Spooled during an outage and delivered late: older than what the card shows, so it changes nothing.
    send(client, agent, snapshot(first + timedelta(minutes=30), [], index_finding(calls=500)))
    kept = listed(client, acme, database["id"])["create_index"]
    assert (kept["queries"][0]["calls"], parsed(kept["evidence_at"])) == (900, first + timedelta(hours=1))
