"""The real server with two web workers, and the snapshots they accept stored by a workers-only
process (`OPTISCHEMA_WORKERS=only`): the path operators run.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest

from control_plane.ingestion.repository import rollup_bucket
from deploy.local.control_plane_process import (
    SCRIPTS,
    ControlPlaneProcess,
    control_plane_environment,
    run_admin,
)
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


@pytest.fixture
def workers(metadata_url: str, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **control_plane_environment(metadata_url),
        "OPTISCHEMA_WORKERS": "only",
        "OPTISCHEMA_SECRET_KEY": "a-secret-key-for-the-workers-only-process-0123456789",
        "OPTISCHEMA_SNAPSHOT_INBOX_INTERVAL_S": "0.05",
        "OPTISCHEMA_DAILY_FOLD_INTERVAL_S": "0.2",
    }
    with (tmp_path / "workers.log").open("wb") as log:
        process = subprocess.Popen(
            [str(SCRIPTS / "optischema-control-plane")], env=env, stdout=log, stderr=log
        )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=20)


def agent_token(client: httpx.Client) -> str:
    login = client.post("/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    created = client.post(
        "/api/v1/databases",
        json={"name": "shop"},
        headers={"Authorization": f"Bearer {login.json()['access_token']}"},
    )
    assert created.status_code == 201, created.text
    return str(created.json()["agent_token"])


def test_snapshots_are_accepted_once_refused_whole_and_stored_by_a_workers_process(
    server: ControlPlaneProcess, workers: subprocess.Popen[bytes], metadata_url: str
) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30, trust_env=False) as client:
        agent = {"Authorization": f"Bearer {agent_token(client)}"}
        body = as_json(make_snapshot(statements=5))
        # Separate connections, so that both web workers get some.
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

    assert [a.status_code for a in answers] == [202, 200, 200, 200]
    assert [a.json()["duplicate"] for a in answers] == [False, True, True, True]
    assert {a.json()["snapshot_id"] for a in answers} == {body["snapshot_id"]}
    assert refused.status_code == 422
    assert refused.json()["detail"]["code"] == "unsupported_schema_version"
    assert "optischema_snapshots_ingested_total" in metrics
    # Autocommit: an open transaction would hold off the workers creating the day's partitions.
    with psycopg.connect(metadata_url, autocommit=True) as conn:
        deadline = time.monotonic() + 60  # generous: a busy 2-core machine, not a budget
        while conn.execute("SELECT count(*) FROM statement_stats").fetchone() != (5,):
            assert time.monotonic() < deadline and workers.poll() is None, "the workers did not store it"
            time.sleep(0.05)
        assert conn.execute("SELECT count(*) FROM statement_stats").fetchone() == (5,)
        assert conn.execute("SELECT sum(samples) FROM statement_rollups").fetchone() == (5,)


def test_a_workers_process_folds_the_hours_that_are_over_into_the_days_by_itself(
    server: ControlPlaneProcess, workers: subprocess.Popen[bytes], metadata_url: str
) -> None:
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    with httpx.Client(base_url=server.base_url, timeout=30, trust_env=False) as client:
        agent = {"Authorization": f"Bearer {agent_token(client)}"}
        for at in (two_days_ago, two_days_ago + timedelta(hours=1)):
            sent = client.post(
                "/api/v1/agent/snapshots", json=as_json(make_snapshot(4, collected_at=at)), headers=agent
            )
            assert sent.status_code == 202, sent.text

    with psycopg.connect(metadata_url, autocommit=True) as conn:
        deadline = time.monotonic() + 60  # generous: a busy 2-core machine, not a budget
        while conn.execute("SELECT sum(samples) FROM statement_daily_rollups").fetchone() != (8,):
            assert time.monotonic() < deadline and workers.poll() is None, "the hours were not folded"
            time.sleep(0.05)
        (mark,) = conn.execute("SELECT folded_before FROM statement_daily_folds").fetchone() or (None,)
    assert mark is not None and mark >= rollup_bucket(datetime.now(UTC)) - timedelta(hours=1)


def test_stopping_the_server_ends_every_process_it_started(server: ControlPlaneProcess) -> None:
    assert server._process is not None
    started = processes_under(server._process.pid)
    assert len(started) >= 2  # two web workers

    server.stop()

    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in started) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [pid for pid in started if alive(pid)] == []
