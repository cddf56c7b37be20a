"""GET /databases/{id}/index-health: the latest snapshot's unused, duplicate, redundant and invalid
indexes, classified by the agent's own rule, each linked to a drop_index recommendation that goes
through approve-and-apply like any other."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from shared.index_findings import finding_id
from shared.sql.index_ddl import drop_index_sql
from shared.wire.advice import AdviceReport, Recommendation
from shared.wire.snapshot import IndexStats
from tests.index_stats import index_stats
from tests.integration.control_plane.api.conftest import SeededTenant, as_user, bearer, register_database
from tests.integration.control_plane.changes.flow import Shop, answer, lease, send, workload


def index(
    name: str, columns: list[str], *, scans: int = 5, valid: bool = True, size: int = 8192
) -> IndexStats:
    return index_stats(name, columns, scans=scans, valid=valid, size=size)


INDEXES = [
    IndexStats(**{**index("orders_pkey", ["id"]).model_dump(), "is_unique": True, "is_primary": True}),
    index("orders_customer_idx", ["customer_id"], scans=40),
    index("orders_customer_copy_idx", ["customer_id"], scans=2, size=16384),  # exact duplicate
    index("orders_status_idx", ["status"], scans=3),  # leads the wider one below
    index("orders_status_created_idx", ["status", "created_at"], scans=9),
    index("orders_note_idx", ["note"], valid=False),  # a failed concurrent build's leftover
    index("orders_legacy_idx", ["legacy_code"], scans=0, size=65536),  # the agent says: unused
]


def unused_finding() -> Recommendation:
    legacy = INDEXES[-1]
    return Recommendation(
        id=finding_id(legacy),
        kind="drop_index",
        tier="advisory",
        sql=drop_index_sql("public", legacy.name),
        rollback_sql=None,
        table="public.orders",
        columns=["legacy_code"],
        improvement_pct=None,
        queries=[],
        rationale="0 scans since statistics were reset 30 days ago; 64 kB on disk.",
    )


def health(client: TestClient, shop: Shop, role: str = "viewer") -> dict[str, dict[str, Any]]:
    response = client.get(
        f"/api/v1/databases/{shop.database_id}/index-health", headers=as_user(client, shop.tenant, role)
    )
    assert response.status_code == 200, response.text
    return {row["index"]: row for row in response.json()}


def shop_with_indexes(client: TestClient, tenant: SeededTenant) -> Shop:
    database = register_database(client, tenant)
    agent = bearer(database["agent_token"])
    snapshot = workload(
        datetime.now(UTC),
        findings=AdviceReport(
            server_version="16.4", hypopg=True, statements_analyzed=0, recommendations=[unused_finding()]
        ),
    )
    snapshot["indexes"] = [i.model_dump(mode="json") for i in INDEXES]
    send(client, agent, snapshot)
    return Shop(tenant, database["id"], agent, "")


def test_each_kind_is_found_once_and_linked_to_a_drop_recommendation(
    client: TestClient, acme: SeededTenant
) -> None:
    shop = shop_with_indexes(client, acme)

    rows = health(client, shop)
    again = health(client, shop)
    listed = client.get(
        f"/api/v1/databases/{shop.database_id}/recommendations", headers=as_user(client, acme, "viewer")
    ).json()

    assert {name: row["kind"] for name, row in rows.items()} == {
        "public.orders_customer_copy_idx": "duplicate",
        "public.orders_status_idx": "redundant",
        "public.orders_note_idx": "invalid",
        "public.orders_legacy_idx": "unused",
    }
    assert rows["public.orders_customer_copy_idx"]["size_bytes"] == 16384
    assert rows["public.orders_customer_copy_idx"]["scans"] == 2
    assert "orders_customer_idx" in rows["public.orders_customer_copy_idx"]["reason"]
    assert all(
        row["recommendation_id"] and row["recommendation_status"] == "proposed" for row in rows.values()
    )
    assert again == rows  # reading twice adds nothing
    drops = [r for r in listed if r["kind"] == "drop_index"]
    assert sorted(r["id"] for r in drops) == sorted(row["recommendation_id"] for row in rows.values())
    assert list(rows) == sorted(rows, key=lambda name: (-rows[name]["size_bytes"], name))


def test_a_duplicate_is_dropped_through_approve_and_apply(client: TestClient, acme: SeededTenant) -> None:
    shop = shop_with_indexes(client, acme)
    duplicate = health(client, shop)["public.orders_customer_copy_idx"]
    admin = as_user(client, acme, "admin")

    review = client.get(f"/api/v1/recommendations/{duplicate['recommendation_id']}", headers=admin).json()
    approved = client.post(f"/api/v1/recommendations/{duplicate['recommendation_id']}/approve", headers=admin)
    (job,) = lease(client, shop)
    answer(
        client,
        shop,
        job.id,
        {
            "status": "succeeded",
            "result": {
                "outcome": "applied",
                "index_name": "orders_customer_copy_idx",
                "index_valid": None,
                "index_size_bytes": None,
                "duration_s": 0.2,
                "lock_retries": 0,
                "warnings": [],
                "finished_at": datetime.now(UTC).isoformat(),
            },
        },
    )

    assert review["kind"] == "drop_index" and review["allowed_actions"] == ["approve", "reject"]
    assert approved.status_code == 200, approved.text
    assert job.kind == "apply" and job.payload["sql"].startswith("DROP INDEX CONCURRENTLY")
    assert job.payload["index_name"] == "orders_customer_copy_idx"
    assert health(client, shop)["public.orders_customer_copy_idx"]["recommendation_status"] == "applied"
