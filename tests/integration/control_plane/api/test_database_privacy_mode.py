"""A database whose agent runs in privacy mode is marked so: `GET /databases` says `privacy_mode`.

The agent's heartbeat (and each snapshot) carries `"privacy": "pseudonyms"`; an agent that says
nothing of it (older, or not in privacy mode) leaves the database `off`, as every database was.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.integration.control_plane.api.conftest import SeededTenant, as_user, bearer, register_database


def privacy_mode(client: TestClient, tenant: SeededTenant) -> str:
    [database] = client.get("/api/v1/databases", headers=as_user(client, tenant, "viewer")).json()
    return str(database["privacy_mode"])


def test_the_heartbeat_marks_the_database(client: TestClient, acme: SeededTenant) -> None:
    agent = bearer(register_database(client, acme)["agent_token"])
    assert privacy_mode(client, acme) == "off"

    said = {"agent_version": "1", "privacy": "pseudonyms"}
    assert client.post("/api/v1/agent/heartbeat", json=said, headers=agent).status_code == 204
    assert privacy_mode(client, acme) == "pseudonyms"

    # The agent restarted without privacy mode (or was downgraded): the mark goes with it.
    assert (
        client.post("/api/v1/agent/heartbeat", json={"agent_version": "1"}, headers=agent).status_code == 204
    )
    assert privacy_mode(client, acme) == "off"


def test_an_unknown_privacy_mode_is_refused(client: TestClient, acme: SeededTenant) -> None:
    agent = bearer(register_database(client, acme)["agent_token"])
    said = {"agent_version": "1", "privacy": "rot13"}
    assert client.post("/api/v1/agent/heartbeat", json=said, headers=agent).status_code == 422
    assert privacy_mode(client, acme) == "off"
