"""The daemon outlives a restart of the monitored database: a logged, retried event, never an exit.

The agent runs as `optischema-agent run` against a monitored cluster of this test's own and a real
control plane. The cluster is restarted cleanly (every pooled connection the agent holds is killed
with it: AdminShutdown), stays down for a few cycles, and comes back; the same daemon process goes on
collecting, and the control plane receives snapshots from before and after the restart.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator

import psycopg
import pytest

from deploy.local.throwaway_cluster import ThrowawayCluster, start_cluster
from tests.e2e.conftest import AGENT_COMMAND, Deployment, stored_snapshot_ids

WAIT_S = 90.0


@pytest.fixture
def restartable_cluster() -> Iterator[ThrowawayCluster]:
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


def wait_for(condition: object, what: str, agent: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():  # type: ignore[operator]
        assert agent.poll() is None, f"the agent exited with {agent.returncode} while waiting for {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def connect_once_started(url: str) -> psycopg.Connection:
    """The port opens before start-up ends ("the database system is starting up"): retry until then."""
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            return psycopg.connect(url, autocommit=True, connect_timeout=2)
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_the_daemon_keeps_collecting_across_a_restart_of_the_monitored_database(
    deployment: Deployment, metadata_url: str, restartable_cluster: ThrowawayCluster
) -> None:
    monitored_url = restartable_cluster.create_database("shop", ("pg_stat_statements",))
    with psycopg.connect(monitored_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY, total int)")
        conn.execute("INSERT INTO orders SELECT g, g FROM generate_series(1, 100) g")
    env = deployment.agent_env(
        OPTISCHEMA_DATABASE_URL=monitored_url,
        OPTISCHEMA_POLL_INTERVAL_S="0.3",
        OPTISCHEMA_CONNECT_TIMEOUT_S="1",
    )
    agent = subprocess.Popen(
        [AGENT_COMMAND, "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(lambda: len(stored_snapshot_ids(metadata_url)) >= 2, "the first snapshots", agent)
        executor = restartable_cluster.executor
        executor.stop()
        time.sleep(4)  # longer than the connect timeout: cycles fail to collect, and say why
        assert agent.poll() is None, "the agent exited while its database was down"
        executor.start()
        with connect_once_started(monitored_url) as conn:
            conn.execute("SELECT count(*) FROM orders WHERE total > 5")
        before = len(stored_snapshot_ids(metadata_url))
        wait_for(lambda: len(stored_snapshot_ids(metadata_url)) >= before + 2, "snapshots after", agent)
    finally:
        agent.send_signal(signal.SIGTERM)
        _, stderr = agent.communicate(timeout=60)

    assert agent.returncode == 0, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    assert "collect failed" in stderr or "cannot connect" in stderr or "lost the connection" in stderr, (
        stderr[-3000:]
    )
