"""What the agent never does: listen on a socket, keep pushing with a token the control plane
refuses, or let the spool grow without bound (and what it reports when it had to drop)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import psutil
import psycopg

from tests.e2e.conftest import AGENT_COMMAND, Deployment, stored_snapshot_ids
from tests.e2e.outage import answering
from tests.integration.agent.conftest import run_agent

WRONG_TOKEN = "osa_this-token-was-never-issued-0123456789"


def wait_for(condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_agent_never_opens_a_listening_socket(
    db: psycopg.Connection, deployment: Deployment, metadata_url: str
) -> None:
    daemon = subprocess.Popen(
        [AGENT_COMMAND, "run"],
        env=deployment.agent_env(OPTISCHEMA_POLL_INTERVAL_S="0.2"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    sockets_seen = []
    try:
        process = psutil.Process(daemon.pid)
        # Sample through startup, collection, the advisor, delivery and job polling.
        deadline = time.monotonic() + 60
        while len(stored_snapshot_ids(metadata_url)) < 3:
            assert daemon.poll() is None, "the agent exited"
            assert time.monotonic() < deadline, "the agent did not deliver three snapshots"
            sockets_seen += process.net_connections(kind="all")
            time.sleep(0.02)
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
    assert sockets_seen, "the sampler saw the agent's connections"
    assert [s for s in sockets_seen if s.status == psutil.CONN_LISTEN] == []
    # UDP has no LISTEN state: a socket bound without a peer could receive datagrams from anyone.
    assert [s for s in sockets_seen if s.type == 2 and not s.raddr] == []  # SOCK_DGRAM
    assert daemon.returncode == 0


def test_wrong_token_stops_pushing_keeps_the_snapshot_and_says_why(
    db: psycopg.Connection, deployment: Deployment, metadata_url: str
) -> None:
    result = deployment.run_agent_once(OPTISCHEMA_AGENT_TOKEN=WRONG_TOKEN, OPTISCHEMA_ADVISE_EVERY_CYCLES="0")

    assert result.returncode == 1
    assert "rejected the agent token with HTTP 401" in result.stderr
    assert WRONG_TOKEN not in result.stderr
    assert stored_snapshot_ids(metadata_url) == []
    assert len(deployment.spooled()) == 1  # kept for when the token is fixed

    fixed = deployment.run_agent_once(OPTISCHEMA_ADVISE_EVERY_CYCLES="0")
    assert fixed.returncode == 0, fixed.stderr
    assert len(stored_snapshot_ids(metadata_url)) == 2


def test_daemon_with_a_refused_token_sends_nothing_more_after_the_first_refusal(
    db: psycopg.Connection, deployment: Deployment
) -> None:
    deployment.server.stop()
    with answering(deployment.server.port, 401) as requests:
        daemon = subprocess.Popen(
            [AGENT_COMMAND, "run"],
            env=deployment.agent_env(OPTISCHEMA_POLL_INTERVAL_S="0.1", OPTISCHEMA_ADVISE_EVERY_CYCLES="0"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_for(lambda: len(deployment.spooled()) >= 4)
        finally:
            daemon.terminate()
            _, stderr = daemon.communicate(timeout=30)
    assert requests == ["POST /api/v1/agent/snapshots"]
    assert stderr.count("stopped sending to the control plane") == 1
    assert daemon.returncode == 1


def test_check_says_the_token_is_wrong(deployment: Deployment) -> None:
    result = run_agent("check", env=deployment.agent_env(OPTISCHEMA_AGENT_TOKEN=WRONG_TOKEN))

    assert result.returncode == 1
    assert "fail  control plane: the control plane rejected the agent token with HTTP 401" in result.stdout

    good = run_agent("check", env=deployment.agent_env())
    assert good.returncode == 0, good.stdout
    assert "ok    control plane:" in good.stdout


def test_spool_cap_evicts_the_oldest_and_the_heartbeat_reports_the_drops(
    db: psycopg.Connection, deployment: Deployment, metadata_url: str
) -> None:
    deployment.server.stop()
    quiet = {"OPTISCHEMA_ADVISE_EVERY_CYCLES": "0"}
    deployment.run_agent_once(**quiet)
    [first] = deployment.spooled()
    cap_mb = str(2.5 * first.stat().st_size / (1024 * 1024))  # room for two snapshots, not three
    for _ in range(4):
        deployment.run_agent_once(**quiet, OPTISCHEMA_SPOOL_MAX_MB=cap_mb)
    kept = deployment.spooled()
    assert len(kept) == 2
    assert first not in kept

    deployment.server.start()
    result = deployment.run_agent_once(**quiet)  # the default cap: this cycle's snapshot fits

    assert result.returncode == 0, result.stderr
    assert len(stored_snapshot_ids(metadata_url)) == 3  # the two kept, and this cycle's
    [database] = [d for d in deployment.get("/databases") if d["id"] == deployment.database_id]
    assert database["agent_dropped_snapshots"] == 3
    assert database["agent_spooled_snapshots"] == 0
