"""The control plane goes away for several cycles while the workload runs; nothing is lost and
nothing arrives twice, even when the agent is killed during the outage."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import Any

import psycopg

from tests.e2e.conftest import AGENT_COMMAND, Deployment, stored_snapshot_ids
from tests.e2e.outage import answering

LOOKUP = "SELECT name FROM products WHERE sku = $1"


def plant(db: psycopg.Connection) -> None:
    db.execute(
        "CREATE TABLE products (id serial PRIMARY KEY, sku int NOT NULL, name text NOT NULL);"
        "INSERT INTO products (sku, name) SELECT g, 'p' || g FROM generate_series(1, 2000) g;"
        "ANALYZE products"
    )
    db.execute("SELECT pg_stat_statements_reset()")


def look_up(db: psycopg.Connection, times: int) -> None:
    for n in range(times):
        db.execute("SELECT name FROM products WHERE sku = %s", [n])


def calls_seen(deployment: Deployment) -> int:
    queries: list[dict[str, Any]] = deployment.get(f"/databases/{deployment.database_id}/queries?limit=100")
    return sum(q["calls"] for q in queries if q["query"] == LOOKUP)


def test_refused_then_503_then_back_every_snapshot_arrives_once(
    db: psycopg.Connection, deployment: Deployment, metadata_url: str
) -> None:
    plant(db)
    look_up(db, 3)
    assert deployment.run_agent_once().returncode == 0
    deployment.server.stop()  # connection refused from here on
    for _ in range(2):
        look_up(db, 5)
        deployment.run_agent_once()
    with answering(deployment.server.port, 503) as requests:
        for _ in range(2):
            look_up(db, 7)
            deployment.run_agent_once()
    assert requests, "the agent kept trying while the control plane answered 503"
    assert len(deployment.spooled()) == 4

    deployment.server.start()
    look_up(db, 11)
    result = deployment.run_agent_once()

    assert result.returncode == 0, result.stderr
    stored = stored_snapshot_ids(metadata_url)
    assert len(stored) == 6 == len(set(stored)), result.stderr
    assert deployment.spooled() == []
    assert calls_seen(deployment) == 3 + 2 * 5 + 2 * 7 + 11  # every execution counted exactly once


def test_agent_killed_mid_outage_loses_nothing(
    db: psycopg.Connection, deployment: Deployment, metadata_url: str
) -> None:
    plant(db)
    deployment.server.stop()
    daemon = subprocess.Popen(
        [AGENT_COMMAND, "run"],
        env=deployment.agent_env(OPTISCHEMA_POLL_INTERVAL_S="0.3", OPTISCHEMA_ADVISE_EVERY_CYCLES="0"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while len(deployment.spooled()) < 3 and time.monotonic() < deadline:
            look_up(db, 2)
            time.sleep(0.1)
    finally:
        os.kill(daemon.pid, signal.SIGKILL)  # no chance to clean up
        daemon.wait(timeout=10)
    assert len(deployment.spooled()) >= 3
    executed_before_kill = calls_in_pg_stat_statements(db)

    deployment.server.start()
    result = deployment.run_agent_once(OPTISCHEMA_ADVISE_EVERY_CYCLES="0")

    assert result.returncode == 0, result.stderr
    stored = stored_snapshot_ids(metadata_url)
    assert len(stored) == len(set(stored)) >= 4
    assert deployment.spooled() == []
    assert calls_seen(deployment) == executed_before_kill


def calls_in_pg_stat_statements(db: psycopg.Connection) -> int:
    row = db.execute(
        "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query = %s", [LOOKUP]
    ).fetchone()
    assert row is not None
    return int(row[0])
