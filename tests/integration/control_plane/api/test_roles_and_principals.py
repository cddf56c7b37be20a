"""RBAC on every endpoint, and agent tokens and user tokens kept apart."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.integration.control_plane.api.conftest import SeededTenant, as_user, bearer, register_database
from tests.integration.control_plane.api.snapshots import as_json, make_snapshot


def test_viewer_and_analyst_cannot_create_databases(client: TestClient, acme: SeededTenant) -> None:
    for role in ("viewer", "analyst"):
        response = client.post("/api/v1/databases", json={"name": "x"}, headers=as_user(client, acme, role))
        assert response.status_code == 403, role


def test_only_admins_create_users_and_read_the_audit_log(client: TestClient, acme: SeededTenant) -> None:
    analyst = as_user(client, acme, "analyst")
    new_user = {"email": "new@acme.example", "password": "a long enough password", "role": "viewer"}

    assert client.post("/api/v1/users", json=new_user, headers=analyst).status_code == 403
    assert client.get("/api/v1/audit", headers=analyst).status_code == 403
    created = client.post("/api/v1/users", json=new_user, headers=as_user(client, acme, "admin"))
    assert created.status_code == 201 and created.json()["role"] == "viewer"


def test_a_role_change_takes_effect_on_the_next_request(client: TestClient, acme: SeededTenant) -> None:
    analyst = as_user(client, acme, "analyst")
    admin = as_user(client, acme, "admin")

    changed = client.patch(f"/api/v1/users/{acme.users['analyst']}", json={"role": "admin"}, headers=admin)

    assert changed.status_code == 200
    assert client.get("/api/v1/audit", headers=analyst).status_code == 200
    assert "user.role_change" in [e["action"] for e in client.get("/api/v1/audit", headers=admin).json()]


def test_agent_token_is_rejected_on_user_routes_and_user_token_on_agent_routes(
    client: TestClient, acme: SeededTenant
) -> None:
    agent = bearer(register_database(client, acme)["agent_token"])
    user = as_user(client, acme, "admin")

    assert client.get("/api/v1/me", headers=agent).status_code == 401
    assert client.get("/api/v1/databases", headers=agent).status_code == 401
    assert (
        client.post("/api/v1/agent/snapshots", json=as_json(make_snapshot()), headers=user).status_code == 401
    )
    assert (
        client.post("/api/v1/agent/heartbeat", json={"agent_version": "1"}, headers=user).status_code == 401
    )


def test_rotating_the_agent_token_revokes_the_old_one_at_once(client: TestClient, acme: SeededTenant) -> None:
    database = register_database(client, acme)
    old = bearer(database["agent_token"])
    assert client.post("/api/v1/agent/heartbeat", json={"agent_version": "1"}, headers=old).status_code == 204

    rotated = client.post(
        f"/api/v1/databases/{database['id']}/agent-token", headers=as_user(client, acme, "admin")
    )

    assert rotated.status_code == 200
    assert client.post("/api/v1/agent/heartbeat", json={"agent_version": "1"}, headers=old).status_code == 401
    new = bearer(rotated.json()["agent_token"])
    assert client.post("/api/v1/agent/heartbeat", json={"agent_version": "1"}, headers=new).status_code == 204
    actions = [
        e["action"] for e in client.get("/api/v1/audit", headers=as_user(client, acme, "admin")).json()
    ]
    assert {"database.create", "agent_token.create", "agent_token.revoke"} <= set(actions)


def test_the_last_admin_cannot_be_demoted(client: TestClient, acme: SeededTenant) -> None:
    admin = as_user(client, acme, "admin")

    refused = client.patch(f"/api/v1/users/{acme.users['admin']}", json={"role": "viewer"}, headers=admin)
    promoted = client.patch(f"/api/v1/users/{acme.users['analyst']}", json={"role": "admin"}, headers=admin)
    stepped_down = client.patch(
        f"/api/v1/users/{acme.users['admin']}", json={"role": "viewer"}, headers=admin
    )

    assert refused.status_code == 409 and "last admin" in refused.json()["detail"]
    assert promoted.status_code == 200 and stepped_down.status_code == 200  # with a second admin, fine
