"""After apply, the same statements in equally long windows before and after: the measured proof."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from control_plane.changes.measured import measure_applied_changes
from tests.integration.control_plane.api.conftest import SeededTenant, as_user
from tests.integration.control_plane.changes.flow import (
    applied_six_minutes_ago,
    apply_now,
    audit,
    recommendation,
    run_in_app,
    send,
    shop_with_finding,
    workload,
)


def measure(client: TestClient) -> int:
    return run_in_app(client, lambda app: measure_applied_changes(app.engine, app.settings))


def test_an_index_that_made_its_statement_faster_is_measured_as_improved(
    measuring: TestClient, acme: SeededTenant
) -> None:
    shop = applied_six_minutes_ago(measuring, acme, after_ms=20.0)

    assert measure(measuring) == 1
    assert measure(measuring) == 0  # measured once

    found = recommendation(measuring, shop)
    assert (found["tier"], found["status"], found["measured_verdict"]) == ("measured", "applied", "improved")
    assert found["measured_improvement_pct"] == 90.0  # 10 ms per call before, 1 ms after
    (statement,) = found["measured_detail"]["statements"]
    assert (statement["calls_before"], statement["calls_after"]) == (20, 20)
    assert (statement["blocks_read_per_call_before"], statement["blocks_read_per_call_after"]) == (40.0, 0.0)
    listed = measuring.get(
        f"/api/v1/databases/{shop.database_id}/recommendations", headers=as_user(measuring, acme, "viewer")
    ).json()
    assert listed[0]["measured_improvement_pct"] == 90.0
    assert any(e["action"] == "recommendation.measured" for e in audit(measuring, acme))


def test_a_regression_is_measured_and_offers_the_rollback(measuring: TestClient, acme: SeededTenant) -> None:
    shop = applied_six_minutes_ago(measuring, acme, after_ms=400.0)

    measure(measuring)

    found = recommendation(measuring, shop)
    assert (found["measured_verdict"], found["measured_improvement_pct"]) == ("regressed", -100.0)
    assert found["rollback_available"] is True


def test_too_few_calls_after_apply_leave_the_change_unmeasured(
    measuring: TestClient, acme: SeededTenant
) -> None:
    shop = shop_with_finding(measuring, acme)
    applied_at = datetime.now(UTC) - timedelta(minutes=6)
    apply_now(measuring, shop, finished_at=applied_at)
    send(measuring, shop.agent, workload(applied_at - timedelta(seconds=60), calls=50, total_ms=500.0))
    send(measuring, shop.agent, workload(applied_at + timedelta(seconds=60), calls=2, total_ms=2.0))

    assert measure(measuring) == 0
    found = recommendation(measuring, shop)
    assert (found["tier"], found["measured_improvement_pct"]) == ("verified", None)
