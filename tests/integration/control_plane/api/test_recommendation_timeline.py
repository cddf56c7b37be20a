"""A recommendation's page shows every move it went through, oldest first, with who made it and
what came of it; anyone who may read the recommendation may read it, viewers included."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from control_plane.app import create_app
from control_plane.changes.measured import measure_applied_changes
from tests.integration.control_plane.api.conftest import SeededTenant, as_user, settings_for
from tests.integration.control_plane.changes.flow import (
    applied_six_minutes_ago,
    recommendation,
    run_in_app,
    shop_with_finding,
)


@pytest.fixture
def measuring(metadata_url: str) -> Iterator[TestClient]:
    """An app whose measured proof compares 5-minute windows and needs 5 calls on each side."""
    settings = settings_for(metadata_url, measure_window_s=300, measure_min_calls=5)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def moves(timeline: list[dict[str, Any]]) -> list[tuple[str, str | None, str, str | None]]:
    return [(e["action"], e["status"], e["actor"], e["actor_email"]) for e in timeline]


def test_approve_apply_and_measure_are_on_the_timeline_with_the_admin_and_the_result(
    measuring: TestClient, acme: SeededTenant
) -> None:
    shop = applied_six_minutes_ago(measuring, acme, after_ms=20.0)
    assert run_in_app(measuring, lambda app: measure_applied_changes(app.engine, app.settings)) == 1

    found = recommendation(measuring, shop)  # as a viewer

    timeline = found["timeline"]
    assert moves(timeline) == [
        ("proposed", "proposed", "agent", None),
        ("approve", "approved", "user", acme.emails["admin"]),
        ("applying", "applying", "agent", None),
        ("apply", "applied", "agent", None),
        ("measured", "applied", "system", None),
    ]
    assert [e["at"] for e in timeline] == sorted(e["at"] for e in timeline)
    proposed, approved, applying, applied, measured = (e["detail"] for e in timeline)
    assert proposed == {key: None for key in proposed}
    assert approved["job_id"] is not None and approved["job_id"] == applying["job_id"] == applied["job_id"]
    assert applying["attempt"] == 1
    assert (applied["index_name"], applied["index_size_bytes"], applied["duration_s"]) == (
        "orders_customer_id_status_idx",
        8192,
        1.5,
    )
    assert (measured["measured_improvement_pct"], measured["measured_verdict"]) == (90.0, "improved")
    assert measured["measured_improvement_pct"] == found["measured_improvement_pct"]


def test_a_rejection_shows_the_analyst_and_the_reason_to_a_viewer_who_cannot_read_the_audit_log(
    client: TestClient, acme: SeededTenant
) -> None:
    shop = shop_with_finding(client, acme)
    rejected = client.post(
        f"/api/v1/recommendations/{shop.recommendation_id}/reject",
        json={"reason": "the nightly batch writes this table all night"},
        headers=as_user(client, acme, "analyst"),
    )
    assert rejected.status_code == 200, rejected.text
    viewer = as_user(client, acme, "viewer")
    assert client.get("/api/v1/audit", headers=viewer).status_code == 403

    found = recommendation(client, shop)

    assert moves(found["timeline"]) == [
        ("proposed", "proposed", "agent", None),
        ("reject", "rejected", "user", acme.emails["analyst"]),
    ]
    assert found["timeline"][1]["detail"]["reason"] == "the nightly batch writes this table all night"


def test_another_tenants_recommendation_has_no_timeline_to_read(
    client: TestClient, acme: SeededTenant, globex: SeededTenant
) -> None:
    shop = shop_with_finding(client, acme)

    response = client.get(
        f"/api/v1/recommendations/{shop.recommendation_id}", headers=as_user(client, globex, "admin")
    )

    assert response.status_code == 404
