"""Sign-in, refresh rotation with reuse detection, sign-out, and bad tokens: all through HTTP."""

from __future__ import annotations

import base64
import json

from fastapi.testclient import TestClient

from control_plane.auth.permissions import ROLE_PERMISSIONS
from tests.integration.control_plane.api.conftest import PASSWORD, SeededTenant, as_user, bearer, login


def test_login_returns_a_bearer_pair_and_me_describes_the_caller(
    client: TestClient, acme: SeededTenant
) -> None:
    tokens = login(client, acme.emails["analyst"])

    me = client.get("/api/v1/me", headers=bearer(tokens["access_token"]))

    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 900
    assert tokens["refresh_token"].startswith("osr_")
    assert me.status_code == 200
    assert me.json() == {
        "id": str(acme.users["analyst"]),
        "email": acme.emails["analyst"],
        "role": "analyst",
        "tenant_id": str(acme.id),
        "permissions": sorted(ROLE_PERMISSIONS["analyst"]),
    }


def test_wrong_password_is_401_and_audited_as_a_failed_login(client: TestClient, acme: SeededTenant) -> None:
    failed = client.post("/api/v1/auth/login", json={"email": acme.emails["viewer"], "password": "nope"})
    unknown = client.post(
        "/api/v1/auth/login", json={"email": "nobody@nowhere.example", "password": PASSWORD}
    )

    audit = client.get("/api/v1/audit", headers=as_user(client, acme, "admin")).json()

    assert failed.status_code == 401 and unknown.status_code == 401
    assert failed.json()["detail"] == unknown.json()["detail"]  # no hint which part was wrong
    actions = [entry["action"] for entry in audit]
    assert "auth.login_failed" in actions and "auth.login" in actions


def test_refresh_rotates_and_the_old_refresh_token_stops_working(
    client: TestClient, acme: SeededTenant
) -> None:
    first = login(client, acme.emails["viewer"])

    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    replay = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})

    assert second.status_code == 200
    assert second.json()["refresh_token"] != first["refresh_token"]
    assert replay.status_code == 401


def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(
    client: TestClient, acme: SeededTenant
) -> None:
    first = login(client, acme.emails["viewer"])
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()

    client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})  # the thief's copy
    legitimate = client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})

    assert legitimate.status_code == 401


def test_sign_out_kills_the_access_token_at_once(client: TestClient, acme: SeededTenant) -> None:
    tokens = login(client, acme.emails["analyst"])
    headers = bearer(tokens["access_token"])

    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204

    assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert (
        client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code
        == 401
    )


def test_disabled_user_is_locked_out_at_once(client: TestClient, acme: SeededTenant) -> None:
    viewer = as_user(client, acme, "viewer")

    disabled = client.post(
        f"/api/v1/users/{acme.users['viewer']}/disable", headers=as_user(client, acme, "admin")
    )

    assert disabled.status_code == 204
    assert client.get("/api/v1/me", headers=viewer).status_code == 401
    assert (
        client.post(
            "/api/v1/auth/login", json={"email": acme.emails["viewer"], "password": PASSWORD}
        ).status_code
        == 401
    )


def test_unsigned_and_garbage_tokens_are_401(client: TestClient, acme: SeededTenant) -> None:
    claims = {"sub": str(acme.users["admin"]), "tid": str(acme.id), "role": "admin", "type": "access"}
    header = (
        base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=").decode()
    )
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()

    for token in (f"{header}.{payload}.", "garbage", "osa_not-a-real-agent-token-at-all-xxxxxxxxxxxx"):
        assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    assert client.get("/api/v1/me").status_code == 401
