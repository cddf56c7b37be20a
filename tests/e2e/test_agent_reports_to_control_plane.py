"""After `optischema-agent run --once`, the control plane shows the database's queries and the
agent's own HypoPG-verified findings; a simulation asked for in the control plane comes back costed."""

from __future__ import annotations

import psycopg
import pytest

from tests.e2e.conftest import Deployment, plant_events
from tests.integration.advise.conftest import run

LOOKUP = "SELECT id, kind FROM events WHERE device_id = $1"


@pytest.fixture
def events(db: psycopg.Connection) -> psycopg.Connection:
    plant_events(db)
    run(db, "SELECT id, kind FROM events WHERE device_id = %s", [[n] for n in range(40)])
    run(db, "SELECT count(*) FROM events WHERE account_id = %s", [[n] for n in range(5)])
    return db


def test_run_once_lists_queries_and_verified_findings(
    events: psycopg.Connection, deployment: Deployment
) -> None:
    result = deployment.run_agent_once()

    assert result.returncode == 0, result.stderr
    queries = deployment.get(f"/databases/{deployment.database_id}/queries?order_by=total_time&limit=50")
    by_text = {query["query"]: query for query in queries}
    assert by_text[LOOKUP]["calls"] == 40
    recommendations = deployment.get(f"/databases/{deployment.database_id}/recommendations")
    [index] = [r for r in recommendations if r["kind"] == "create_index" and r["columns"] == ["device_id"]]
    assert index["tier"] == "verified"
    assert index["status"] == "proposed"
    assert index["table"] == "public.events"
    assert index["sql"] == "CREATE INDEX CONCURRENTLY events_device_id_idx ON public.events (device_id);"
    assert index["improvement_pct"] >= 80
    assert deployment.spooled() == []  # delivered, nothing left behind


def test_a_second_run_does_not_duplicate_findings(events: psycopg.Connection, deployment: Deployment) -> None:
    assert deployment.run_agent_once().returncode == 0
    assert deployment.run_agent_once(OPTISCHEMA_ADVISE_EVERY_CYCLES="1").returncode == 0

    recommendations = deployment.get(f"/databases/{deployment.database_id}/recommendations")
    keys = [(r["kind"], r["table"], tuple(r["columns"])) for r in recommendations]
    assert len(keys) == len(set(keys))


def test_simulation_job_comes_back_with_costs_before_and_after(
    events: psycopg.Connection, deployment: Deployment
) -> None:
    assert deployment.run_agent_once(OPTISCHEMA_ADVISE_EVERY_CYCLES="0").returncode == 0
    queries = deployment.get(f"/databases/{deployment.database_id}/queries?limit=50")
    fingerprint = next(q["fingerprint"] for q in queries if q["query"] == LOOKUP)
    with deployment.api as api:
        asked = api.post(
            f"/databases/{deployment.database_id}/simulations",
            json={
                "candidates": [{"table": "public.events", "columns": ["device_id"]}],
                "fingerprints": [fingerprint],
            },
        )
    assert asked.status_code == 202, asked.text
    job_id = asked.json()["job_id"]

    result = deployment.run_agent_once(OPTISCHEMA_ADVISE_EVERY_CYCLES="0")

    assert result.returncode == 0, result.stderr
    job = deployment.get(f"/databases/{deployment.database_id}/jobs/{job_id}")
    assert job["status"] == "succeeded", job
    [cost] = job["result"]["statements"]
    assert cost["fingerprint"] == fingerprint
    assert cost["cost_after"] < cost["cost_before"] / 5
    assert job["result"]["improvement_pct"] >= 80
    [estimate] = job["result"]["indexes"]
    assert estimate["size_bytes"] > 0
