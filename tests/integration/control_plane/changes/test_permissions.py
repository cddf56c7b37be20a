"""One source of rights: `/me` lists the caller's permissions from the server's table, and every
recommendation carries the actions its caller may take now (permission AND lifecycle)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from control_plane.auth.permissions import ROLE_PERMISSIONS
from tests.integration.control_plane.api.conftest import SeededTenant, as_user
from tests.integration.control_plane.changes.flow import Shop, apply_now, finding, shop_with_finding


def _as(client: TestClient, shop: Shop, role: str) -> dict[str, Any]:
    response = client.get(
        f"/api/v1/recommendations/{shop.recommendation_id}", headers=as_user(client, shop.tenant, role)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_me_lists_each_roles_permissions_from_the_table(client: TestClient, acme: SeededTenant) -> None:
    seen = {
        role: client.get("/api/v1/me", headers=as_user(client, acme, role)).json()
        for role in ("admin", "analyst", "viewer")
    }

    for role, me in seen.items():
        assert me["role"] == role and me["tenant_id"] == str(acme.id)
        assert set(me["permissions"]) == ROLE_PERMISSIONS[role]  # type: ignore[index]
    assert "recommendation.approve" in seen["admin"]["permissions"]
    assert "recommendation.approve" not in seen["analyst"]["permissions"]
    assert "recommendation.reject" in seen["analyst"]["permissions"]
    assert "audit.read" not in seen["viewer"]["permissions"]


def test_allowed_actions_follow_the_callers_role_and_the_status(
    client: TestClient, acme: SeededTenant
) -> None:
    shop = shop_with_finding(client, acme)

    proposed = {role: _as(client, shop, role)["allowed_actions"] for role in ("admin", "analyst", "viewer")}
    listed = client.get(
        f"/api/v1/databases/{shop.database_id}/recommendations", headers=as_user(client, acme, "analyst")
    ).json()
    apply_now(client, shop)
    applied = {role: _as(client, shop, role)["allowed_actions"] for role in ("admin", "analyst", "viewer")}

    assert proposed == {"admin": ["approve", "reject"], "analyst": ["reject"], "viewer": []}
    assert [row["allowed_actions"] for row in listed] == [["reject"]]
    assert applied == {"admin": ["rollback"], "analyst": [], "viewer": []}


def test_advice_the_agent_cannot_apply_offers_no_approve(client: TestClient, acme: SeededTenant) -> None:
    shop = shop_with_finding(client, acme, finding(kind="rewrite", sql="SELECT 1", key="rewrite:1"))

    assert _as(client, shop, "admin")["allowed_actions"] == ["reject"]


def test_a_refused_permission_is_a_403_naming_it(client: TestClient, acme: SeededTenant) -> None:
    shop = shop_with_finding(client, acme)

    refused = client.post(
        f"/api/v1/recommendations/{shop.recommendation_id}/approve", headers=as_user(client, acme, "analyst")
    )

    assert refused.status_code == 403
    assert refused.json()["detail"] == "recommendation.approve requires the admin role"
