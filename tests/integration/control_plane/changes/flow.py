"""Steps of the approve-and-apply flow over HTTP, as a person and as the agent take them."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from fastapi.testclient import TestClient

from control_plane.api.services import AppServices
from shared.job_signing import load_job
from shared.version import PRODUCT_VERSION
from shared.wire.advice import AdviceReport, QueryEvidence, Recommendation
from shared.wire.jobs import JobBody, JobsResponse
from shared.wire.snapshot import IntervalInfo, ServerInfo, Snapshot, StatementStats
from tests.integration.control_plane.api.conftest import SeededTenant, as_user, bearer, register_database
from tests.integration.control_plane.api.snapshots import fingerprint
from tests.integration.control_plane.inbox import drain_inbox

INDEX_SQL = "CREATE INDEX CONCURRENTLY orders_customer_id_status_idx ON public.orders (customer_id, status);"
ROLLBACK_SQL = "DROP INDEX CONCURRENTLY IF EXISTS public.orders_customer_id_status_idx;"
T = TypeVar("T")


@dataclass
class Shop:
    """A tenant's monitored database with its agent, and one proposed index recommendation."""

    tenant: SeededTenant
    database_id: str
    agent: dict[str, str]
    recommendation_id: str


def finding(
    kind: str = "create_index", sql: str = INDEX_SQL, improvement: float = 99.9, key: str | None = None
) -> Recommendation:
    return Recommendation(
        id=key or f"{kind}:public.orders(customer_id,status)",
        kind=kind,  # type: ignore[arg-type]
        tier="verified" if kind == "create_index" else "advisory",
        sql=sql,
        rollback_sql=ROLLBACK_SQL if kind == "create_index" else None,
        table="public.orders",
        columns=["customer_id", "status"] if kind == "create_index" else [],
        improvement_pct=improvement,
        queries=[
            QueryEvidence(
                fingerprint=fingerprint(0),
                query="SELECT * FROM orders WHERE customer_id = $1",
                calls=20,
                cost_before=8291.1,
                cost_after=8.07,
            )
        ],
        rationale="HypoPG: the planner uses the index and the statement's cost drops 99.9%.",
    )


def workload(
    collected_at: datetime,
    *,
    calls: int = 0,
    total_ms: float = 0.0,
    blocks_read: int = 0,
    findings: Any = None,
) -> dict[str, Any]:
    """A 30-second snapshot in which statement 0 ran `calls` times for `total_ms` in all."""
    snapshot = Snapshot(
        snapshot_id=uuid.uuid4(),
        agent_version=PRODUCT_VERSION,
        collected_at=collected_at,
        database_name="shop",
        interval=IntervalInfo(
            kind="delta", started_at=collected_at - timedelta(seconds=30), ended_at=collected_at, seconds=30.0
        ),
        server=ServerInfo(version="15.20", version_num=150020, is_replica=False, settings={}),
        statements=[
            StatementStats(
                fingerprint=fingerprint(0),
                query="SELECT * FROM orders WHERE customer_id = $1",
                statement_type="select",
                relations=["orders"],
                calls=calls,
                rows=calls,
                total_exec_time_ms=total_ms,
                shared_blks_read=blocks_read,
            )
        ],
        tables=[],
        plans=[],
        findings=findings,
    )
    return snapshot.model_dump(mode="json")


def report(*findings: Recommendation) -> AdviceReport:
    return AdviceReport(
        server_version="15.20", hypopg=True, statements_analyzed=1, recommendations=list(findings)
    )


def send(client: TestClient, agent: dict[str, str], snapshot: dict[str, Any]) -> None:
    response = client.post("/api/v1/agent/snapshots", json=snapshot, headers=agent)
    assert response.status_code == 202, response.text
    drain_inbox(client)


def shop_with_finding(client: TestClient, tenant: SeededTenant, *findings: Recommendation) -> Shop:
    database = register_database(client, tenant)
    agent = bearer(database["agent_token"])
    send(client, agent, workload(datetime.now(UTC), findings=report(*(findings or (finding(),)))))
    listed = client.get(
        f"/api/v1/databases/{database['id']}/recommendations", headers=as_user(client, tenant, "viewer")
    ).json()
    return Shop(tenant, database["id"], agent, listed[0]["id"])


def recommendation(client: TestClient, shop: Shop) -> dict[str, Any]:
    response = client.get(
        f"/api/v1/recommendations/{shop.recommendation_id}", headers=as_user(client, shop.tenant, "viewer")
    )
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def approve(client: TestClient, shop: Shop, role: str = "admin", **body: Any) -> Any:
    return client.post(
        f"/api/v1/recommendations/{shop.recommendation_id}/approve",
        json=body or None,
        headers=as_user(client, shop.tenant, role),
    )


def lease(client: TestClient, shop: Shop) -> list[JobBody]:
    response = client.get("/api/v1/agent/jobs", headers=shop.agent)
    assert response.status_code == 200, response.text
    return [load_job(signed) for signed in JobsResponse.model_validate(response.json()).jobs]


def applied_result(outcome: str = "applied", finished_at: datetime | None = None) -> dict[str, Any]:
    return {
        "outcome": outcome,
        "index_name": "orders_customer_id_status_idx",
        "index_valid": outcome in ("applied", "already_applied"),
        "index_size_bytes": 8192,
        "duration_s": 1.5,
        "lock_retries": 1,
        "warnings": [],
        "finished_at": (finished_at or datetime.now(UTC)).isoformat(),
    }


def answer(client: TestClient, shop: Shop, job_id: uuid.UUID | str, body: dict[str, Any]) -> None:
    response = client.post(f"/api/v1/agent/jobs/{job_id}/result", json=body, headers=shop.agent)
    assert response.status_code == 200, response.text


def apply_now(client: TestClient, shop: Shop, finished_at: datetime | None = None) -> None:
    """Approved by the admin, leased and applied by the agent."""
    assert approve(client, shop).status_code == 200
    (job,) = lease(client, shop)
    answer(client, shop, job.id, {"status": "succeeded", "result": applied_result(finished_at=finished_at)})


def applied_six_minutes_ago(client: TestClient, tenant: SeededTenant, after_ms: float) -> Shop:
    """Applied 6 minutes ago (the window is 5), with 20 calls of 10 ms each before, and 20 of
    `after_ms` in all after."""
    shop = shop_with_finding(client, tenant)
    applied_at = datetime.now(UTC) - timedelta(minutes=6)
    apply_now(client, shop, finished_at=applied_at)
    for seconds, calls, total, blocks in ((-200, 10, 100.0, 400), (-60, 10, 100.0, 400)):
        send(
            client,
            shop.agent,
            workload(
                applied_at + timedelta(seconds=seconds), calls=calls, total_ms=total, blocks_read=blocks
            ),
        )
    for seconds in (60, 200):
        send(
            client,
            shop.agent,
            workload(applied_at + timedelta(seconds=seconds), calls=10, total_ms=after_ms / 2),
        )
    # Past the after-window: not part of the comparison.
    send(client, shop.agent, workload(applied_at + timedelta(seconds=330), calls=10, total_ms=10_000.0))
    return shop


def audit(client: TestClient, tenant: SeededTenant) -> list[dict[str, Any]]:
    response = client.get("/api/v1/audit?limit=100", headers=as_user(client, tenant, "admin"))
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def run_in_app(client: TestClient, job: Callable[[AppServices], Awaitable[T]]) -> T:
    """Runs a background job's function once, on the app's own event loop and engine."""
    app_services: AppServices = client.app.state.services  # type: ignore[attr-defined]

    async def call() -> T:
        return await job(app_services)

    return client.portal.call(call)  # type: ignore[union-attr]
