"""`POST /recommendations/{id}/benchmark` and the verdict on the agent's answer (issue 16).

A verified create_index is benchmarked only when its agent said `sandbox: true`; the answer makes it
`benchmarked` (improvement_pct then the real time cut) or `demoted` with the medians in its reason;
a failed job leaves the tier alone; a finding reported again does not undo the verdict.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from shared.version import PRODUCT_VERSION
from shared.wire.jobs import BenchmarkIndexPayload
from tests.integration.control_plane.api.conftest import SeededTenant, as_user
from tests.integration.control_plane.api.snapshots import fingerprint
from tests.integration.control_plane.changes.flow import (
    INDEX_SQL,
    Shop,
    answer,
    finding,
    lease,
    recommendation,
    report,
    send,
    shop_with_finding,
    workload,
)


def heartbeat(client: TestClient, shop: Shop, **extra: Any) -> None:
    body = {"agent_version": PRODUCT_VERSION, **extra}
    response = client.post("/api/v1/agent/heartbeat", json=body, headers=shop.agent)
    assert response.status_code == 204, response.text


def benchmark(client: TestClient, shop: Shop, role: str = "analyst") -> Any:
    return client.post(
        f"/api/v1/recommendations/{shop.recommendation_id}/benchmark",
        headers=as_user(client, shop.tenant, role),
    )


def timed(before: float, after: float, *, plan_changed: bool) -> dict[str, Any]:
    return {
        "benchmark": {
            "index_size_bytes": 2_201_600,
            "build_seconds": 0.3,
            "statements": [
                {
                    "fingerprint": fingerprint(0),
                    "median_ms_before": before,
                    "median_ms_after": after,
                    "p95_ms_before": before * 1.2,
                    "p95_ms_after": after * 1.2,
                    "shared_buffers_before": 1274,
                    "shared_buffers_after": 31 if plan_changed else 1274,
                    "plan_changed": plan_changed,
                }
            ],
        },
        "not_timed": [],
    }


def benchmarked_shop(client: TestClient, tenant: SeededTenant) -> tuple[Shop, str]:
    """A verified index whose agent has a sandbox, its benchmark queued and leased: (shop, job id)."""
    shop = shop_with_finding(client, tenant)
    heartbeat(client, shop, sandbox=True)
    queued = benchmark(client, shop)
    assert queued.status_code == 202, queued.text
    [job] = lease(client, shop)
    assert job.kind == "benchmark_index"
    return shop, str(job.id)


def test_only_an_agent_with_a_sandbox_gets_the_job_and_only_analysts_and_admins_ask(
    client: TestClient, acme: SeededTenant, globex: SeededTenant
) -> None:
    shop = shop_with_finding(client, acme)
    heartbeat(client, shop)  # an older agent, or one without a sandbox: the key is absent

    refused = benchmark(client, shop)
    assert refused.status_code == 409 and "no sandbox" in refused.json()["detail"]

    heartbeat(client, shop, sandbox=True)
    assert benchmark(client, shop, "viewer").status_code == 403
    other = client.post(
        f"/api/v1/recommendations/{shop.recommendation_id}/benchmark",
        headers=as_user(client, globex, "admin"),
    )
    assert other.status_code == 404
    queued = benchmark(client, shop)
    assert queued.status_code == 202, queued.text
    assert queued.json()["benchmark"]["verdict"] == "queued"
    assert benchmark(client, shop, "admin").status_code == 409  # one at a time
    assert recommendation(client, shop)["benchmark"]["verdict"] == "queued"

    [job] = lease(client, shop)
    payload = BenchmarkIndexPayload.model_validate(job.payload)
    assert (payload.sql, payload.table, payload.columns) == (
        INDEX_SQL,
        "public.orders",
        ["customer_id", "status"],
    )
    assert payload.fingerprints == [fingerprint(0)]


def test_a_real_gain_makes_it_benchmarked_with_the_timings(client: TestClient, acme: SeededTenant) -> None:
    shop, job_id = benchmarked_shop(client, acme)

    answer(client, shop, job_id, {"status": "succeeded", "result": timed(12.1, 0.4, plan_changed=True)})

    found = recommendation(client, shop)
    assert (found["tier"], found["status"]) == ("benchmarked", "proposed")
    verdict = found["benchmark"]
    assert verdict["verdict"] == "benchmarked" and verdict["gain_pct"] == 96.7
    assert found["improvement_pct"] == 96.7 and verdict["estimated_improvement_pct"] == 99.9
    assert (verdict["index_size_bytes"], verdict["build_seconds"]) == (2_201_600, 0.3)
    [statement] = verdict["statements"]
    assert (statement["median_ms_before"], statement["median_ms_after"]) == (12.1, 0.4)
    assert statement["calls_per_day"] is None  # the snapshot reported no calls: each counts once
    assert (
        verdict["reason"]
        == "the real run: median 12.1 ms -> 0.4 ms (96.7 % time saved), at least the 10 % needed"
    )

    moves = [(e["action"], e["actor"], e["detail"]["job_id"]) for e in found["timeline"][1:]]
    assert moves == [("benchmark", "user", job_id), ("benchmarked", "agent", job_id)]
    last = found["timeline"][-1]["detail"]
    assert (last["index_size_bytes"], last["duration_s"], last["reason"]) == (
        2_201_600,
        0.3,
        verdict["reason"],
    )

    # Reported again with the same SQL, the finding refreshes its evidence but keeps the verdict.
    send(client, shop.agent, workload(datetime.now(UTC), findings=report(finding())))
    again = recommendation(client, shop)
    assert (again["tier"], again["improvement_pct"], again["benchmark"]["verdict"]) == (
        "benchmarked",
        96.7,
        "benchmarked",
    )


def test_the_same_plan_a_little_faster_is_demoted_with_the_medians(
    client: TestClient, acme: SeededTenant
) -> None:
    shop, job_id = benchmarked_shop(client, acme)

    # 1.8 -> 1.6 ms is 11 % but the plan is the same: noise, not the index.
    answer(client, shop, job_id, {"status": "succeeded", "result": timed(1.8, 1.6, plan_changed=False)})

    found = recommendation(client, shop)
    assert (found["tier"], found["status"], found["improvement_pct"]) == ("demoted", "proposed", 99.9)
    assert found["benchmark"]["verdict"] == "demoted" and found["benchmark"]["gain_pct"] == 0.0
    assert found["benchmark"]["reason"] == (
        "HypoPG estimated -99.9 % cost; the real run: median 1.8 ms -> 1.6 ms, the same plan "
        "(0.0 % time saved), below the 10 % needed"
    )


def test_a_failed_benchmark_says_why_and_leaves_the_tier(client: TestClient, acme: SeededTenant) -> None:
    shop, job_id = benchmarked_shop(client, acme)

    answer(client, shop, job_id, {"status": "failed", "error": "the sandbox refused (InsufficientPrivilege)"})

    found = recommendation(client, shop)
    assert found["tier"] == "verified"
    assert found["benchmark"]["verdict"] == "failed"
    assert found["benchmark"]["reason"] == "the sandbox refused (InsufficientPrivilege)"
    assert found["timeline"][-1]["action"] == "benchmark_failed"
    assert found["timeline"][-1]["detail"]["reason"] == "the sandbox refused (InsufficientPrivilege)"
    assert benchmark(client, shop).status_code == 202  # it may be asked again


def test_the_benchmark_action_is_offered_exactly_when_the_api_would_take_it(
    client: TestClient, acme: SeededTenant
) -> None:
    shop = shop_with_finding(client, acme)

    def offered(role: str) -> bool:
        listed = client.get(
            f"/api/v1/databases/{shop.database_id}/recommendations", headers=as_user(client, acme, role)
        )
        assert listed.status_code == 200, listed.text
        one = client.get(
            f"/api/v1/recommendations/{shop.recommendation_id}", headers=as_user(client, acme, role)
        )
        in_list = [
            "benchmark" in r["allowed_actions"] for r in listed.json() if r["id"] == shop.recommendation_id
        ]
        assert in_list == ["benchmark" in one.json()["allowed_actions"]]  # the list and the page agree
        return in_list[0]

    heartbeat(client, shop)
    assert not offered("admin")  # no sandbox: the API answers 409
    heartbeat(client, shop, sandbox=True)
    assert offered("analyst") and offered("admin")
    assert not offered("viewer")  # 403
    assert benchmark(client, shop).status_code == 202
    assert not offered("admin")  # already queued: 409
