"""The `docker run` line for an agent is built once, on the server, with the URL agents reach the
control plane at: OPTISCHEMA_PUBLIC_URL when set, else the URL the request came to."""

from __future__ import annotations

import shlex

from fastapi.testclient import TestClient

from control_plane.app import create_app
from tests.integration.control_plane.api.conftest import (
    SeededTenant,
    as_user,
    register_database,
    settings_for,
)

PUBLIC_URL = "https://optischema.example.com"


def environment_of(command: str) -> dict[str, str]:
    words = shlex.split(command)
    assert words[:2] == ["docker", "run"] and words[-2:] == ["optischema-agent", "run"]
    pairs = [words[i + 1] for i, word in enumerate(words) if word == "-e"]
    return dict(pair.split("=", 1) for pair in pairs)


def test_the_agent_command_uses_the_public_url_when_it_is_set(metadata_url: str, acme: SeededTenant) -> None:
    with TestClient(create_app(settings_for(metadata_url, public_url=PUBLIC_URL + "/"))) as client:
        created = register_database(client, acme)
        admin = as_user(client, acme, "admin")
        rotated = client.post(f"/api/v1/databases/{created['id']}/agent-token", headers=admin).json()
        listed = client.get("/api/v1/databases", headers=as_user(client, acme, "viewer")).json()

    for issued in (created, rotated):
        assert environment_of(issued["agent_command"]) == {
            "OPTISCHEMA_API_URL": PUBLIC_URL,
            "OPTISCHEMA_AGENT_TOKEN": issued["agent_token"],
            "OPTISCHEMA_DATABASE_URL": "postgresql://optischema@DB_HOST:5432/DB_NAME",
        }
        assert "--restart unless-stopped" in issued["agent_command"]
    # Without the token: the same line with a placeholder, for pages that show the command later.
    (database,) = listed
    assert "agent_token" not in database
    assert (
        database["agent_command_template"].replace("<token>", rotated["agent_token"])
        == rotated["agent_command"]
    )


def test_without_a_public_url_the_command_uses_the_url_the_request_came_to(
    client: TestClient, acme: SeededTenant
) -> None:
    created = register_database(client, acme)

    assert environment_of(created["agent_command"])["OPTISCHEMA_API_URL"] == "http://testserver"
