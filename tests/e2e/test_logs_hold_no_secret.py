"""No log line, at any level, holds a credential: both deployables run at DEBUG and are scanned.

The control plane (a real server subprocess) and the agent (the console script) both run with
OPTISCHEMA_LOG_LEVEL=DEBUG through everything that handles a secret: sign-in with the right and a
wrong password, token refresh, user creation, an LLM key, a webhook secret, agent-token rotation
(old and new token), a monitored-database URL with a password, and an agent whose token is refused.
Then every byte either wrote is searched for each of those secrets.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest

from tests.e2e.conftest import ADMIN_PASSWORD, Deployment, plant_events
from tests.integration.agent.conftest import run_agent, unique_role

DEBUG = {"OPTISCHEMA_LOG_LEVEL": "DEBUG"}
MONITOR_PASSWORD = "monitor-pw-7d1e0c55"  # planted to be searched for
WRONG_PASSWORD = "wrong-pw-31c9b2aa"
NEW_USER_PASSWORD = "new-user-pw-5b7e44d0 long enough"
LLM_KEY = "sk-test-llm-key-0f9a8b7c6d5e4f3a"


@pytest.fixture
def control_plane_env() -> dict[str, str]:
    return {**DEBUG, "OPTISCHEMA_ALLOW_PRIVATE_OUTBOUND": "true"}


def with_password(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}"))


def test_debug_logs_of_both_deployables_hold_no_secret(
    deployment: Deployment, db: psycopg.Connection
) -> None:
    plant_events(db)
    for device in range(5):
        db.execute("SELECT count(*) FROM events WHERE device_id = %s", (device,))
    monitor = unique_role(db, "monitor", f"LOGIN PASSWORD '{MONITOR_PASSWORD}' IN ROLE pg_monitor")
    db.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {monitor}")
    monitored_url = with_password(deployment.monitored_url, monitor, MONITOR_PASSWORD)
    base = deployment.server.base_url + "/api/v1"
    secrets: dict[str, str] = {
        "admin password": ADMIN_PASSWORD,
        "wrong password": WRONG_PASSWORD,
        "new user's password": NEW_USER_PASSWORD,
        "LLM key": LLM_KEY,
        "monitored database password": MONITOR_PASSWORD,
        "first agent token": deployment.agent_token,
        "access token": deployment.access_token,
    }

    with httpx.Client(base_url=base, timeout=30, trust_env=False) as client:
        email = client.get("/me", headers=auth(deployment.access_token)).json()["email"]
        assert (
            client.post("/auth/login", json={"email": email, "password": WRONG_PASSWORD}).status_code == 401
        )
        pair = client.post("/auth/login", json={"email": email, "password": ADMIN_PASSWORD}).json()
        secrets["refresh token"] = pair["refresh_token"]
        renewed = client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]}).json()
        secrets["renewed access token"] = renewed["access_token"]
        secrets["renewed refresh token"] = renewed["refresh_token"]
        admin = auth(renewed["access_token"])
        created = client.post(
            "/users",
            json={"email": "analyst@e2e.example", "password": NEW_USER_PASSWORD, "role": "analyst"},
            headers=admin,
        )
        assert created.status_code == 201, created.text
        llm = client.put(
            "/settings/llm",
            json={
                "provider": "openai",
                "base_url": "http://127.0.0.1:9/v1",
                "model": "m",
                "api_key": LLM_KEY,
            },
            headers=admin,
        )
        assert llm.status_code == 200, llm.text
        hook = client.post("/webhooks", json={"url": "http://127.0.0.1:9/hook"}, headers=admin)
        assert hook.status_code == 201, hook.text
        secrets["webhook secret"] = hook.json()["secret"]

        # The agent at DEBUG, with the password in its URL: one full cycle, then with its token
        # revoked (the refusal path logs too), then `check` against a port nobody listens on.
        ran = run_agent(
            "run", "--once", env=deployment.agent_env(OPTISCHEMA_DATABASE_URL=monitored_url, **DEBUG)
        )
        assert ran.returncode == 0, ran.stderr[-3000:]
        rotated = client.post(f"/databases/{deployment.database_id}/agent-token", headers=admin)
        assert rotated.status_code == 200, rotated.text
        secrets["rotated agent token"] = rotated.json()["agent_token"]
        refused = run_agent(
            "run", "--once", env=deployment.agent_env(OPTISCHEMA_DATABASE_URL=monitored_url, **DEBUG)
        )
        assert refused.returncode == 1
        unreachable = with_password("postgresql://x@127.0.0.1:9/shop", monitor, MONITOR_PASSWORD)
        failed_check = run_agent(
            "check", env=deployment.agent_env(OPTISCHEMA_DATABASE_URL=unreachable, **DEBUG)
        )
        assert failed_check.returncode == 1

    logs = {
        "control plane": deployment.server.log_tail(chars=50_000_000),
        "agent run": ran.stderr + ran.stdout,
        "agent refused": refused.stderr + refused.stdout,
        "agent check": failed_check.stderr + failed_check.stdout,
    }
    assert " DEBUG " in logs["control plane"], "the server really ran at DEBUG"
    leaks = [
        f"the {what} appears in the {where} log"
        for where, text in logs.items()
        for what, secret in secrets.items()
        if secret in text
    ]
    assert leaks == []


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
