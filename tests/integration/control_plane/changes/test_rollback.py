"""Rollback queues the signed DROP INDEX job; the status becomes rolled_back when the agent succeeds."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.integration.control_plane.api.conftest import SeededTenant, as_user
from tests.integration.control_plane.changes.flow import (
    ROLLBACK_SQL,
    Shop,
    answer,
    applied_result,
    apply_now,
    audit,
    lease,
    recommendation,
    shop_with_finding,
)


def roll_back(client: TestClient, shop: Shop, role: str = "admin") -> object:
    return client.post(
        f"/api/v1/recommendations/{shop.recommendation_id}/rollback",
        headers=as_user(client, shop.tenant, role),
    )


def test_an_applied_index_is_rolled_back_by_a_signed_job_and_audited(
    client: TestClient, acme: SeededTenant
) -> None:
    shop = shop_with_finding(client, acme)
    apply_now(client, shop)

    queued = roll_back(client, shop)
    again = roll_back(client, shop)
    in_flight = recommendation(client, shop)
    (job,) = lease(client, shop)
    answer(client, shop, job.id, {"status": "succeeded", "result": applied_result("rolled_back")})
    rolled_back = recommendation(client, shop)

    assert queued.status_code == 200, queued.text  # type: ignore[attr-defined]
    assert again.status_code == 409  # type: ignore[attr-defined]
    assert in_flight["status"] == "applied" and in_flight["rollback_in_progress"] is True
    assert in_flight["rollback_available"] is False
    assert job.kind == "rollback" and job.payload["sql"] == ROLLBACK_SQL
    assert job.payload["index_name"] == "orders_customer_id_status_idx"
    assert rolled_back["status"] == "rolled_back"
    actions = [e["action"] for e in audit(client, acme)]
    assert actions.index("recommendation.rolled_back") < actions.index("recommendation.rollback")


def test_a_failed_rollback_leaves_the_change_applied_and_offers_the_rollback_again(
    client: TestClient, acme: SeededTenant
) -> None:
    shop = shop_with_finding(client, acme)
    apply_now(client, shop)
    roll_back(client, shop)
    (job,) = lease(client, shop)

    answer(client, shop, job.id, {"status": "failed", "error": "canceling statement due to lock timeout"})

    found = recommendation(client, shop)
    assert (found["status"], found["rollback_available"]) == ("applied", True)
    assert "lock timeout" in found["status_reason"]
    assert any(e["action"] == "recommendation.rollback_failed" for e in audit(client, acme))


def test_only_admins_roll_back_and_only_applied_changes(client: TestClient, acme: SeededTenant) -> None:
    shop = shop_with_finding(client, acme)

    not_applied = roll_back(client, shop)
    apply_now(client, shop)
    by_analyst = roll_back(client, shop, "analyst")

    assert not_applied.status_code == 409  # type: ignore[attr-defined]
    assert by_analyst.status_code == 403  # type: ignore[attr-defined]
