"""Approve and apply: an admin decides, the agent takes a signed job, the outcome moves the status."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from tests.integration.control_plane.api.conftest import SeededTenant, as_user
from tests.integration.control_plane.changes.flow import (
    INDEX_SQL,
    answer,
    applied_result,
    approve,
    audit,
    finding,
    lease,
    recommendation,
    shop_with_finding,
)


def test_an_approved_index_is_leased_signed_to_the_agent_and_becomes_applied_with_an_audit_trail(
    client: TestClient, acme: SeededTenant
) -> None:
    shop = shop_with_finding(client, acme)

    approved = approve(client, shop)
    after_approval = recommendation(client, shop)
    (job,) = lease(client, shop)
    while_applying = recommendation(client, shop)
    answer(client, shop, job.id, {"status": "succeeded", "result": applied_result()})
    applied = recommendation(client, shop)

    assert approved.status_code == 200, approved.text
    assert approved.json()["recommendation"]["status"] == "approved"
    assert str(job.id) == approved.json()["job_id"]
    assert (job.kind, str(job.database_id)) == ("apply", shop.database_id)
    assert job.payload == {
        "recommendation_id": shop.recommendation_id,
        "sql": INDEX_SQL,
        "table": "public.orders",
        "index_name": "orders_customer_id_status_idx",
        "estimated_size_bytes": None,
    }
    assert (
        after_approval["status"] == "approved"
        and after_approval["approved_by"] == f"user:{acme.users['admin']}"
    )
    assert while_applying["status"] == "applying"
    assert applied["status"] == "applied" and applied["applied_at"] is not None
    assert applied["rollback_available"] is True
    trail = [entry for entry in audit(client, acme) if entry["action"].startswith("recommendation.")]
    assert [entry["action"] for entry in reversed(trail)] == [
        "recommendation.approve",
        "recommendation.applying",
        "recommendation.apply",
    ]
    approval, applying, apply = reversed(trail)
    assert approval["actor"] == f"user:{acme.users['admin']}"
    assert approval["object"] == f"recommendation:{shop.recommendation_id}"
    assert (
        approval["detail"]["job_id"] == str(job.id) and approval["detail"]["database_id"] == shop.database_id
    )
    for by_agent in (applying, apply):
        assert by_agent["actor"] == f"agent:{shop.database_id}"
        assert by_agent["detail"]["agent_version"]  # from which agent
    assert apply["detail"]["outcome"] == "applied" and apply["detail"]["index_size_bytes"] == 8192


def test_a_viewer_and_an_analyst_cannot_approve_and_another_tenant_cannot_see_it(
    client: TestClient, acme: SeededTenant, globex: SeededTenant
) -> None:
    shop = shop_with_finding(client, acme)

    by_viewer, by_analyst = approve(client, shop, "viewer"), approve(client, shop, "analyst")
    by_stranger = client.post(
        f"/api/v1/recommendations/{shop.recommendation_id}/approve", headers=as_user(client, globex, "admin")
    )
    seen_by_stranger = client.get(
        f"/api/v1/recommendations/{shop.recommendation_id}", headers=as_user(client, globex, "admin")
    )

    assert (by_viewer.status_code, by_analyst.status_code) == (403, 403)
    assert (by_stranger.status_code, seen_by_stranger.status_code) == (404, 404)
    assert recommendation(client, shop)["status"] == "proposed"
    assert lease(client, shop) == []


def test_concurrent_approvals_queue_exactly_one_apply_job(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    shop = shop_with_finding(client, acme)
    headers = as_user(client, acme, "admin")
    start = threading.Barrier(4)
    answers: list[Any] = []

    def approve_at_once() -> None:
        start.wait()
        answers.append(
            client.post(f"/api/v1/recommendations/{shop.recommendation_id}/approve", headers=headers)
        )

    threads = [threading.Thread(target=approve_at_once) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(a.status_code for a in answers) == [200, 409, 409, 409]
    assert all("only a failed or proposed one" in a.json()["detail"] for a in answers if a.status_code == 409)
    with psycopg.connect(metadata_url) as conn:
        jobs = conn.execute("SELECT count(*) FROM agent_jobs WHERE kind = 'apply'").fetchone()
    assert jobs == (1,)
    approvals = [e for e in audit(client, acme) if e["action"] == "recommendation.approve"]
    assert len(approvals) == 1


def test_rewrites_and_config_changes_are_advisory_and_cannot_be_approved(
    client: TestClient, acme: SeededTenant
) -> None:
    rewrite = finding("rewrite", sql="SELECT id FROM orders WHERE customer_id = $1", key="rewrite:0")
    shop = shop_with_finding(client, acme, rewrite)

    refused = approve(client, shop)

    assert refused.status_code == 409 and "advisory" in refused.json()["detail"]
    assert recommendation(client, shop)["status"] == "proposed"


def test_a_failed_apply_carries_the_servers_error_and_may_be_approved_again(
    client: TestClient, acme: SeededTenant
) -> None:
    shop = shop_with_finding(client, acme)
    approve(client, shop)
    (job,) = lease(client, shop)
    error = (
        'could not create unique index "orders_customer_id_status_idx": Key (customer_id)=(7) is duplicated.'
    )

    answer(client, shop, job.id, {"status": "failed", "error": error})
    failed = recommendation(client, shop)
    again = approve(client, shop)

    assert (failed["status"], failed["status_reason"]) == ("failed", error)
    failure = next(e for e in audit(client, acme) if e["action"] == "recommendation.apply_failed")
    assert failure["detail"]["error"] == error and failure["actor"] == f"agent:{shop.database_id}"
    assert again.status_code == 200 and again.json()["recommendation"]["status"] == "approved"
    assert [j.kind for j in lease(client, shop)] == ["apply"]


def test_an_apply_job_nobody_ran_in_time_leaves_the_recommendation_failed(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    shop = shop_with_finding(client, acme)
    approve(client, shop)
    with psycopg.connect(metadata_url, autocommit=True) as conn:
        conn.execute("UPDATE agent_jobs SET expires_at = now() - interval '1 second'")

    assert lease(client, shop) == []  # settles the expired job on the way

    expired = recommendation(client, shop)
    assert expired["status"] == "failed" and "expired" in expired["status_reason"]
    failure = next(e for e in audit(client, acme) if e["action"] == "recommendation.apply_failed")
    assert failure["actor"] == "optischema" and failure["detail"]["job_status"] == "expired"


def test_analysts_reject_with_a_reason_and_a_rejected_change_cannot_be_approved(
    client: TestClient, acme: SeededTenant
) -> None:
    shop = shop_with_finding(client, acme)
    url = f"/api/v1/recommendations/{shop.recommendation_id}/reject"

    by_viewer = client.post(url, json={"reason": "no"}, headers=as_user(client, acme, "viewer"))
    rejected = client.post(
        url, json={"reason": "we partition this table next week"}, headers=as_user(client, acme, "analyst")
    )
    approved_after = approve(client, shop)

    assert by_viewer.status_code == 403
    assert rejected.status_code == 200, rejected.text
    assert (rejected.json()["status"], rejected.json()["status_reason"]) == (
        "rejected",
        "we partition this table next week",
    )
    assert approved_after.status_code == 409 and "rejected" in approved_after.json()["detail"]
    rejection = next(e for e in audit(client, acme) if e["action"] == "recommendation.reject")
    assert rejection["actor"] == f"user:{acme.users['analyst']}"


def test_squawk_findings_are_shown_before_approval_and_cached_for_listing(
    client: TestClient, acme: SeededTenant
) -> None:
    blocking = "CREATE INDEX orders_status_idx ON public.orders (status);"
    shop = shop_with_finding(client, acme, finding(sql=blocking, key="create_index:public.orders(status)"))
    listing = f"/api/v1/databases/{shop.database_id}/recommendations"

    before = client.get(listing, headers=as_user(client, acme, "viewer")).json()[0]
    reviewed = recommendation(client, shop)
    after = client.get(listing, headers=as_user(client, acme, "viewer")).json()[0]

    assert before["lint"] is None  # listing never runs the linter
    rules = [f["rule"] for f in reviewed["lint"]]
    assert rules == ["require-concurrent-index-creation"]  # prefer-robust-stmts etc. configured away
    assert after["lint"] == reviewed["lint"]
    # squawk's findings inform; the agent's allow-list decides, and it refuses a blocking build
    # (tests/integration/control_plane/changes/test_refused_ddl.py).
    assert approve(client, shop).status_code == 409


def test_a_concurrent_index_has_no_squawk_findings(client: TestClient, acme: SeededTenant) -> None:
    shop = shop_with_finding(client, acme)

    assert recommendation(client, shop)["lint"] == []
