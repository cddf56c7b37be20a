"""The real server with two web workers, each ingesting through its companion process.

The in-process app (TestClient) ingests in the worker itself; this is the path operators run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from deploy.local.control_plane_process import ControlPlaneProcess, run_admin
from tests.integration.control_plane.api.snapshots import as_json, make_snapshot

ADMIN_EMAIL = "admin@workers.example"
ADMIN_PASSWORD = "an admin password, long enough"


def processes_under(pid: int) -> list[int]:
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = subprocess.run(
            ["pgrep", "-P", str(parent)], capture_output=True, text=True, check=False
        ).stdout.split()
        found += [int(child) for child in children]
        frontier += [int(child) for child in children]
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]


@pytest.fixture
def server(metadata_url: str, tmp_path: Path) -> Iterator[ControlPlaneProcess]:
    run_admin(
        metadata_url, "create-tenant", "--name", "workers", "--admin-email", ADMIN_EMAIL,
        "--admin-password", ADMIN_PASSWORD,
    )  # fmt: skip
    process = ControlPlaneProcess(metadata_url, tmp_path / "server.log", {"OPTISCHEMA_WEB_CONCURRENCY": "2"})
    process.start()
    try:
        yield process
    finally:
        process.stop()


def agent_token(client: httpx.Client) -> str:
    login = client.post("/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    created = client.post(
        "/api/v1/databases",
        json={"name": "shop"},
        headers={"Authorization": f"Bearer {login.json()['access_token']}"},
    )
    assert created.status_code == 201, created.text
    return str(created.json()["agent_token"])


def test_snapshots_are_stored_once_and_refused_whole_through_the_companions(
    server: ControlPlaneProcess, metadata_url: str
) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30, trust_env=False) as client:
        agent = {"Authorization": f"Bearer {agent_token(client)}"}
        body = as_json(make_snapshot(statements=5))
        # Separate connections, so that both workers (and so both companions) get some.
        answers = [
            httpx.post(f"{server.base_url}/api/v1/agent/snapshots", json=body, headers=agent, timeout=30)
            for _ in range(4)
        ]
        bad = {**body, "schema_version": 99}
        refused = client.post(
            "/api/v1/agent/snapshots",
            content=json.dumps(bad).encode(),
            headers={**agent, "Content-Type": "application/json"},
        )
        metrics = client.get("/metrics").text

    assert [a.status_code for a in answers] == [201, 200, 200, 200]
    assert [a.json()["stored"] for a in answers] == [True, False, False, False]
    assert {a.json()["snapshot_id"] for a in answers} == {body["snapshot_id"]}
    assert refused.status_code == 422
    assert refused.json()["detail"]["code"] == "unsupported_schema_version"
    assert "optischema_snapshots_ingested_total" in metrics
    with psycopg.connect(metadata_url) as conn:
        assert conn.execute("SELECT count(*) FROM statement_stats").fetchone() == (5,)
        assert conn.execute("SELECT sum(samples) FROM statement_rollups").fetchone() == (5,)


def test_stopping_the_server_ends_every_process_it_started(server: ControlPlaneProcess) -> None:
    assert server._process is not None
    started = processes_under(server._process.pid)
    assert len(started) >= 4  # two web workers, each with its companion

    server.stop()

    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in started) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [pid for pid in started if alive(pid)] == []


def test_a_companion_ends_with_its_worker_however_the_worker_ends(server: ControlPlaneProcess) -> None:
    assert server._process is not None
    workers = processes_under(server._process.pid)
    worker = next(pid for pid in workers if processes_under(pid))
    (its_companion,) = processes_under(worker)

    os.kill(worker, signal.SIGKILL)  # no shutdown of any kind

    deadline = time.monotonic() + 10
    while alive(its_companion) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(its_companion)
