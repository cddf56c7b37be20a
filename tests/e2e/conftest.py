"""The two deployables together: a real control plane server and the agent as a subprocess.

The server runs as `optischema-control-plane` on a loopback port over a freshly migrated metadata
database; a tenant is created with `optischema-admin`, a monitored database is registered over
HTTP, and the agent gets its token. The monitored database is the test's own `db` (pg_stat_statements
and hypopg), with a planted workload.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from click.testing import CliRunner

from agent.ship.spool import TEMP_PREFIX
from control_plane import admin_cli
from deploy.local.control_plane_process import ControlPlaneProcess
from tests.integration.advise.conftest import fresh_statistics
from tests.integration.agent.conftest import AGENT_COMMAND, run_agent
from tests.integration.control_plane.inbox import drain_inbox_at

__all__ = ["AGENT_COMMAND"]
# Test modules load it as a plugin (pytest_plugins) after importing its names: rewrite its asserts too.
pytest.register_assert_rewrite("tests.e2e.dashboard_flows")

ADMIN_PASSWORD = "an end-to-end admin password, long enough"
FAST_AGENT = {
    # Every wait of the agent shrunk to milliseconds: tests never sleep through real backoff.
    "OPTISCHEMA_RETRY_INITIAL_S": "0.01",
    "OPTISCHEMA_RETRY_MAX_S": "0.05",
    "OPTISCHEMA_RETRY_MAX_ATTEMPTS": "2",
    "OPTISCHEMA_HTTP_TIMEOUT_S": "10",
    "OPTISCHEMA_ADVISE_TIME_BUDGET_S": "20",
    "OPTISCHEMA_POLL_INTERVAL_S": "0.2",
    "OPTISCHEMA_CYCLE_DEADLINE_S": "60",
}


@dataclass
class Deployment:
    server: ControlPlaneProcess
    access_token: str
    database_id: str
    agent_token: str
    monitored_url: str
    spool_dir: Path
    metadata_url: str

    @property
    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.server.base_url + "/api/v1",
            headers={"Authorization": f"Bearer {self.access_token}"},
            timeout=30.0,
            trust_env=False,
        )

    def get(self, path: str) -> Any:
        with self.api as client:
            response = client.get(path)
        assert response.status_code == 200, response.text
        return response.json()

    def agent_env(self, **overrides: str) -> dict[str, str]:
        return agent_environment(
            self.monitored_url, self.server.base_url, self.agent_token, self.spool_dir, **overrides
        )

    def run_agent_once(self, **overrides: str) -> Any:
        """One agent cycle, with what it delivered stored: the server runs no workers, the test
        stores its snapshot inbox (see tests.integration.control_plane.inbox)."""
        result = run_agent("run", "--once", env=self.agent_env(**overrides), timeout=180)
        drain_inbox_at(self.metadata_url)
        return result

    def spooled(self) -> list[Path]:
        """The snapshots the spool holds whole: not a write an agent killed mid-way left behind
        (its temporary file, which the agent deletes when it next reads the spool)."""
        return sorted(
            path for path in (self.spool_dir / "snapshots").glob("*") if not path.name.startswith(TEMP_PREFIX)
        )


def agent_environment(
    monitored_url: str, api_url: str, agent_token: str, spool_dir: Path, **overrides: str
) -> dict[str, str]:
    """The agent's environment: none of the caller's OPTISCHEMA_* settings, FAST_AGENT, then overrides."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("OPTISCHEMA_")}
    env.update(FAST_AGENT)
    env.update(
        OPTISCHEMA_DATABASE_URL=monitored_url,
        OPTISCHEMA_API_URL=api_url,
        OPTISCHEMA_AGENT_TOKEN=agent_token,
        OPTISCHEMA_SPOOL_DIR=str(spool_dir),
    )
    env.update(overrides)
    return env


def login(base_url: str, email: str, password: str) -> str:
    response = httpx.post(
        f"{base_url}/api/v1/auth/login",
        json={"email": email, "password": password},
        timeout=30,
        trust_env=False,
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


@pytest.fixture
def control_plane_env() -> dict[str, str]:
    """OPTISCHEMA_* settings of the server under test; a module overrides this fixture to shrink
    its windows and intervals."""
    return {}


def create_tenant_admin(metadata_url: str) -> str:
    """A tenant made with `optischema-admin create-tenant`, the command itself run in this process
    (a subprocess would add ~1 s of interpreter start-up to each of ~35 tests; test_admin_cli runs
    the console script); the email of its admin (password ADMIN_PASSWORD)."""
    email = f"admin-{uuid.uuid4().hex[:8]}@e2e.example"
    created = CliRunner().invoke(
        admin_cli.cli,
        ["create-tenant", "--name", "e2e", "--admin-email", email, "--admin-password", ADMIN_PASSWORD],
        env={"OPTISCHEMA_METADATA_URL": metadata_url},
    )
    assert created.exit_code == 0, (created.output, created.exception)
    return email


def register_shop(base_url: str, email: str) -> tuple[str, dict[str, Any]]:
    """The admin signs in and registers the monitored database `shop` over HTTP: (access token, the
    created database with its id and agent_token)."""
    access = login(base_url, email, ADMIN_PASSWORD)
    created = httpx.post(
        f"{base_url}/api/v1/databases",
        json={"name": "shop"},
        headers={"Authorization": f"Bearer {access}"},
        timeout=30,
        trust_env=False,
    )
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return access, body


@pytest.fixture
def deployment(
    metadata_url: str, db_url: str, tmp_path: Path, control_plane_env: dict[str, str]
) -> Iterator[Deployment]:
    email = create_tenant_admin(metadata_url)
    server = ControlPlaneProcess(metadata_url, tmp_path / "control-plane.log", control_plane_env)
    server.start()
    try:
        access, body = register_shop(server.base_url, email)
        yield Deployment(
            server, access, body["id"], body["agent_token"], db_url, tmp_path / "spool", metadata_url
        )
    finally:
        server.stop()


def plant_events(db: psycopg.Connection) -> None:
    """`events`, 100,000 rows with no index on the selective device_id (the planted missing index),
    analyzed, with the statement counters reset."""
    db.execute(
        """
        CREATE TABLE events (
            id bigserial PRIMARY KEY,
            account_id int NOT NULL,
            device_id int NOT NULL,
            kind text NOT NULL
        );
        INSERT INTO events (account_id, device_id, kind)
        SELECT g % 2003, (g / 7) % 1009, (ARRAY['click','view','buy'])[1 + g % 3]
          FROM generate_series(1, 100000) g;
        """
    )
    fresh_statistics(db)


def stored_snapshot_ids(metadata_url: str) -> list[str]:
    """The snapshots stored so far, once what the inbox holds is stored (the server runs no workers)."""
    drain_inbox_at(metadata_url)
    with psycopg.connect(metadata_url) as conn:
        rows = conn.execute("SELECT snapshot_id::text FROM snapshots ORDER BY collected_at").fetchall()
    return [row[0] for row in rows]


def counters_json(path: Path) -> Any:
    return json.loads(path.read_text())
