"""The whole loop with the real control plane, the real agent and a real monitored database:
a verified index is approved, the agent builds it, the recommendation is `applied`, more workload
shows the measured improvement, and the rollback removes the index again."""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest

from tests.e2e.conftest import Deployment
from tests.integration.advise.conftest import fresh_statistics, run

LOOKUP = "SELECT id, total FROM orders WHERE customer_id = %s"
INDEX = "orders_customer_id_idx"
MEASURE_WINDOW_S = 30


@pytest.fixture
def control_plane_env() -> dict[str, str]:
    # Measured proof compares equal windows before and after the change (an hour in production),
    # counting only snapshot intervals wholly inside each; the measuring job wakes often enough not
    # to keep the test waiting.
    return {
        "OPTISCHEMA_WORKERS": "on",
        "OPTISCHEMA_MEASURE_WINDOW_S": str(MEASURE_WINDOW_S),
        "OPTISCHEMA_MEASURE_INTERVAL_S": "0.5",
        "OPTISCHEMA_MEASURE_MIN_CALLS": "20",
    }


@pytest.fixture
def orders(db: psycopg.Connection) -> psycopg.Connection:
    db.execute(
        """
        CREATE TABLE orders (
            id bigserial PRIMARY KEY,
            customer_id int NOT NULL,
            total numeric(10, 2) NOT NULL,
            note text NOT NULL
        );
        INSERT INTO orders (customer_id, total, note)
        SELECT g % 5003, (g % 997) / 10.0, repeat('x', 60) FROM generate_series(1, 200000) g;
        """
    )
    fresh_statistics(db)
    return db


def index_state(db: psycopg.Connection) -> bool | None:
    """True: a valid index of that name exists; False: an invalid one; None: none."""
    row = db.execute(
        "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = %s",
        [INDEX],
    ).fetchone()
    return None if row is None else bool(row[0])


def the_recommendation(deployment: Deployment, recommendation_id: str) -> dict[str, Any]:
    listed = deployment.get(f"/databases/{deployment.database_id}/recommendations")
    [found] = [r for r in listed if r["id"] == recommendation_id]
    return found


def audit_actions(deployment: Deployment) -> list[str]:
    return [event["action"] for event in deployment.get("/audit?limit=100")]


def run_agent(deployment: Deployment, **env: str) -> None:
    result = deployment.run_agent_once(OPTISCHEMA_ADVISE_EVERY_CYCLES="0", **env)
    assert result.returncode == 0, result.stderr


def test_approved_index_is_applied_then_measured_then_rolled_back(
    orders: psycopg.Connection, deployment: Deployment
) -> None:
    run(orders, LOOKUP, [[n] for n in range(40)])
    # The agent's baseline and its findings. On a loaded machine (make test beside a benchmark) the
    # advisor's default 20 s budget can run out before it has proven anything: give it room here.
    first = deployment.run_agent_once(OPTISCHEMA_ADVISE_TIME_BUDGET_S="120")
    assert first.returncode == 0, first.stderr[-3000:]
    run(orders, LOOKUP, [[n] for n in range(40, 80)])
    run_agent(deployment)  # an interval of the workload before the change
    listed = deployment.get(f"/databases/{deployment.database_id}/recommendations")
    found = [r for r in listed if r["kind"] == "create_index" and r["columns"] == ["customer_id"]]
    assert len(found) == 1, (listed, first.stderr[-3000:])
    [proposed] = found
    assert (proposed["tier"], proposed["status"]) == ("verified", "proposed")

    with deployment.api as api:
        approved = api.post(f"/recommendations/{proposed['id']}/approve", json={})
    assert approved.status_code in (200, 202), approved.text
    assert the_recommendation(deployment, proposed["id"])["status"] == "approved"
    assert index_state(orders) is None  # approval alone changes nothing in the database

    run_agent(deployment, OPTISCHEMA_ALLOW_APPLY="true")
    assert index_state(orders) is True
    applied = the_recommendation(deployment, proposed["id"])
    assert applied["status"] == "applied"
    assert {"recommendation.approve", "recommendation.apply"} <= set(audit_actions(deployment))

    run_agent(deployment)  # closes the interval the change happened in: it is neither before nor after
    run(orders, LOOKUP, [[n] for n in range(80, 120)])  # the same workload, now with the index
    run_agent(deployment)
    measured = wait_for_measurement(deployment, proposed["id"], timeout_s=MEASURE_WINDOW_S + 30)
    assert measured["tier"] == "measured"
    assert measured["measured_improvement_pct"] > 50  # a seq scan of 200,000 rows became a lookup

    with deployment.api as api:
        rolled = api.post(f"/recommendations/{proposed['id']}/rollback")
    assert rolled.status_code in (200, 202), rolled.text
    run_agent(deployment, OPTISCHEMA_ALLOW_APPLY="true")
    assert index_state(orders) is None
    assert the_recommendation(deployment, proposed["id"])["status"] == "rolled_back"
    assert "recommendation.rollback" in audit_actions(deployment)


def wait_for_measurement(deployment: Deployment, recommendation_id: str, timeout_s: float) -> dict[str, Any]:
    """The after-window has to pass before the change is measured; the server's job does the rest."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = the_recommendation(deployment, recommendation_id)
        if found["measured_improvement_pct"] is not None or time.monotonic() > deadline:
            return found
        time.sleep(0.5)
