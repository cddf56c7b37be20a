"""Automatic benchmarks (issue 16): every verified index is timed on the sandbox before anyone asks.

The background job queues a `benchmark_index` job for the best never-benchmarked verified index of
each database whose agent has a sandbox, one at a time per database, and never twice for the same
recommendation on its own; a database without a sandbox, or with the setting off, gets none.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from control_plane.api.services import AppServices
from control_plane.benchmarks.automatic import queue_automatic_benchmarks
from shared.wire.jobs import BenchmarkIndexPayload
from tests.integration.control_plane.api.conftest import SeededTenant, as_user
from tests.integration.control_plane.benchmarks.test_benchmark_api import benchmark, heartbeat, timed
from tests.integration.control_plane.changes.flow import (
    Shop,
    answer,
    audit,
    finding,
    lease,
    recommendation,
    run_in_app,
    shop_with_finding,
)

SMALL = "CREATE INDEX CONCURRENTLY optischema_orders_status ON public.orders (status);"


def run_job(client: TestClient, **overrides: Any) -> int:
    def job(services: AppServices) -> Any:
        return queue_automatic_benchmarks(services.engine, services.settings.model_copy(update=overrides))

    return run_in_app(client, job)


def listed(client: TestClient, shop: Shop) -> dict[str, dict[str, Any]]:
    """The database's recommendations by their SQL."""
    response = client.get(
        f"/api/v1/databases/{shop.database_id}/recommendations",
        headers=as_user(client, shop.tenant, "viewer"),
    )
    assert response.status_code == 200, response.text
    return {r["sql"]: r for r in response.json()}


def two_findings_shop(client: TestClient, tenant: SeededTenant) -> Shop:
    """Two verified indexes of one database: the default one (-99.9 %) and a smaller one (-40 %)."""
    return shop_with_finding(
        client,
        tenant,
        finding(),
        finding(sql=SMALL, improvement=40.0, key="create_index:public.orders(status)"),
    )


def test_the_best_verified_index_is_queued_without_anyone_asking_and_one_at_a_time(
    client: TestClient, acme: SeededTenant
) -> None:
    shop = two_findings_shop(client, acme)
    assert run_job(client) == 0  # no agent has said it has a sandbox
    heartbeat(client, shop, sandbox=True)

    assert run_job(client) == 1
    found = listed(client, shop)
    best, small = found[next(sql for sql in found if sql != SMALL)], found[SMALL]
    assert best["benchmark"]["verdict"] == "queued" and small["benchmark"] is None
    assert best["benchmark"]["estimated_improvement_pct"] == 99.9
    assert run_job(client) == 0  # the sandbox is busy until the agent answers
    assert benchmark(client, shop).status_code == 409  # and a person asking is told so

    [job] = lease(client, shop)
    assert str(BenchmarkIndexPayload.model_validate(job.payload).recommendation_id) == best["id"]
    trail = recommendation(client, shop)["timeline"]
    assert [(e["action"], e["actor"]) for e in trail[1:]] == [("benchmark", "system")]
    [event] = [e for e in audit(client, acme) if e["action"] == "recommendation.benchmark"]
    assert (event["actor"], event["object"]) == ("optischema", f"recommendation:{best['id']}")
    assert event["detail"]["automatic"] is True and event["detail"]["job_id"] == str(job.id)

    answer(client, shop, job.id, {"status": "succeeded", "result": timed(12.1, 0.4, plan_changed=True)})
    assert run_job(client) == 1  # the next one, now that the sandbox is free
    found = listed(client, shop)
    assert found[best["sql"]]["tier"] == "benchmarked"
    assert found[SMALL]["benchmark"]["verdict"] == "queued"

    [second] = lease(client, shop)
    answer(
        client, shop, second.id, {"status": "failed", "error": "the sandbox refused (InsufficientPrivilege)"}
    )
    assert run_job(client) == 0  # a failed or judged one is not tried again on its own
    assert listed(client, shop)[SMALL]["benchmark"]["verdict"] == "failed"


def test_nothing_is_queued_when_the_setting_is_off_or_for_another_tenants_sandbox(
    client: TestClient, acme: SeededTenant, globex: SeededTenant
) -> None:
    shop = shop_with_finding(client, acme)
    other = shop_with_finding(client, globex)
    heartbeat(client, shop, sandbox=True)

    assert run_job(client, benchmark_automatic=False) == 0
    assert recommendation(client, shop)["benchmark"] is None

    assert run_job(client) == 1  # acme's only: globex's agent has no sandbox
    assert recommendation(client, shop)["benchmark"]["verdict"] == "queued"
    assert recommendation(client, other)["benchmark"] is None
    assert lease(client, other) == []


def test_a_recommendation_someone_already_asked_for_is_left_to_them(
    client: TestClient, acme: SeededTenant
) -> None:
    shop = shop_with_finding(client, acme)
    heartbeat(client, shop, sandbox=True)
    asked = benchmark(client, shop)
    assert asked.status_code == 202, asked.text

    assert run_job(client) == 0
    [job] = lease(client, shop)
    assert str(job.id) == asked.json()["job_id"]
    trail = recommendation(client, shop)["timeline"]
    assert [(e["action"], e["actor"]) for e in trail[1:]] == [("benchmark", "user")]
