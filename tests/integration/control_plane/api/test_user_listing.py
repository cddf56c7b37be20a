"""GET /users lists the tenant's users for the settings page: admins only (the permission table's
`user.manage`), never another tenant's, with when each last signed in."""

from __future__ import annotations

from datetime import datetime

from fastapi.testclient import TestClient

from tests.integration.control_plane.api.conftest import SeededTenant, as_user


def test_admins_list_their_tenants_users_with_their_last_sign_in(
    client: TestClient, acme: SeededTenant, globex: SeededTenant
) -> None:
    admin = as_user(client, acme, "admin")  # signs in: the admin's last_login_at
    disabled = client.post(f"/api/v1/users/{acme.users['analyst']}/disable", headers=admin)
    assert disabled.status_code == 204

    response = client.get("/api/v1/users", headers=admin)

    assert response.status_code == 200, response.text
    users = {user["email"]: user for user in response.json()}
    assert set(users) == set(acme.emails.values())  # none of globex's
    assert set(users[acme.emails["admin"]]) == {
        "id",
        "email",
        "role",
        "disabled",
        "created_at",
        "last_login_at",
    }
    assert {(u["role"], u["disabled"]) for u in users.values()} == {
        ("admin", False),
        ("analyst", True),
        ("viewer", False),
    }
    assert users[acme.emails["admin"]]["id"] == str(acme.users["admin"])
    assert datetime.fromisoformat(users[acme.emails["admin"]]["last_login_at"])
    assert users[acme.emails["viewer"]]["last_login_at"] is None  # never signed in
    assert all(datetime.fromisoformat(u["created_at"]) for u in users.values())


def test_viewers_and_analysts_may_not_list_users(client: TestClient, acme: SeededTenant) -> None:
    for role in ("viewer", "analyst"):
        response = client.get("/api/v1/users", headers=as_user(client, acme, role))
        assert response.status_code == 403, role
