"""pg_stat_statements polling against the real server: deltas, resets, and what is left out."""

from __future__ import annotations

import psycopg
import pytest

from agent.db.session import MonitoredDatabase
from agent.snapshot.collector import Collector
from agent.state.collector_state import load_state, save_state
from deploy.local.postgres_servers import PostgresServer
from deploy.local.throwaway_cluster import ThrowawayCluster
from shared.wire.snapshot import Snapshot, StatementStats

# Debian's PostgreSQL and PostgreSQL 18 alike (tests/conftest.py).
pytestmark = pytest.mark.both_servers

CUSTOMER_LOOKUP = "SELECT id, total FROM orders WHERE customer_id = %s"


def run_lookups(db: psycopg.Connection, times: int) -> None:
    for customer in range(times):
        db.execute(CUSTOMER_LOOKUP, [customer])


def statement_on(snapshot: Snapshot, needle: str) -> StatementStats:
    matches = [s for s in snapshot.statements if needle in s.query.lower()]
    assert len(matches) == 1, [s.query for s in snapshot.statements]
    return matches[0]


def test_first_poll_without_state_reports_counters_since_reset(
    orders: psycopg.Connection, monitored: MonitoredDatabase
) -> None:
    run_lookups(orders, 7)

    snapshot = Collector(monitored).collect().snapshot

    assert snapshot.interval.kind == "since_reset"
    assert statement_on(snapshot, "from orders where customer_id").calls == 7


def test_second_poll_reports_the_workload_between_polls_as_deltas(
    orders: psycopg.Connection, monitored: MonitoredDatabase
) -> None:
    collector = Collector(monitored)
    run_lookups(orders, 5)
    collector.collect()
    run_lookups(orders, 12)

    snapshot = collector.collect().snapshot

    assert snapshot.interval.kind == "delta"
    assert not snapshot.interval.reset_detected
    lookup = statement_on(snapshot, "from orders where customer_id")
    assert lookup.calls == 12
    assert lookup.rows == 12 * 20
    assert lookup.total_exec_time_ms > 0
    assert lookup.query == "SELECT id, total FROM orders WHERE customer_id = $1"
    assert lookup.relations == ["orders"]


def test_statement_without_calls_in_the_interval_is_left_out(
    orders: psycopg.Connection, monitored: MonitoredDatabase
) -> None:
    collector = Collector(monitored)
    run_lookups(orders, 3)
    collector.collect()

    snapshot = collector.collect().snapshot

    assert not [s for s in snapshot.statements if "customer_id" in s.query]


def test_reset_between_polls_is_flagged_without_negative_deltas(
    orders: psycopg.Connection, monitored: MonitoredDatabase
) -> None:
    collector = Collector(monitored)
    run_lookups(orders, 30)
    collector.collect()
    orders.execute("SELECT pg_stat_statements_reset()")
    run_lookups(orders, 4)

    snapshot = collector.collect().snapshot

    assert snapshot.interval.reset_detected
    assert statement_on(snapshot, "from orders where customer_id").calls == 4
    for statement in snapshot.statements:  # the model refuses negatives; check the values anyway
        assert statement.calls >= 0 and statement.total_exec_time_ms >= 0


def test_agent_own_queries_are_absent(orders: psycopg.Connection, monitored: MonitoredDatabase) -> None:
    collector = Collector(monitored)
    run_lookups(orders, 2)
    collector.collect()
    collector.collect()
    run_lookups(orders, 2)

    snapshot = collector.collect().snapshot

    texts = [s.query.lower() for s in snapshot.statements]
    assert texts == ["select id, total from orders where customer_id = $1"]
    assert snapshot.dropped.agent_own > 0


def test_statements_normalizing_to_one_fingerprint_are_merged(
    orders: psycopg.Connection, monitored: MonitoredDatabase
) -> None:
    orders.execute("SELECT count(*) FROM orders WHERE customer_id IN (1, 2)")
    orders.execute("SELECT count(*) FROM orders WHERE customer_id IN (1, 2, 3)")
    orders.execute("select count(*)   from orders where customer_id in (4,5,6,7) -- another shape")

    snapshot = Collector(monitored).collect().snapshot

    merged = statement_on(snapshot, "count(*) from orders where customer_id in")
    assert merged.calls == 3


def test_other_databases_statements_never_appear(
    orders: psycopg.Connection, monitored: MonitoredDatabase, db_cluster: ThrowawayCluster
) -> None:
    db_cluster.create_database("neighbour")
    with db_cluster.connect("neighbour") as neighbour:
        neighbour.execute("CREATE TABLE payroll (employee int, salary int)")
        neighbour.execute("SELECT salary FROM payroll WHERE employee = 42")
    run_lookups(orders, 1)

    snapshot = Collector(monitored).collect().snapshot

    assert not [s for s in snapshot.statements if "payroll" in s.query]


def test_restarted_agent_reports_a_true_delta_from_saved_state(
    orders: psycopg.Connection, monitored: MonitoredDatabase, tmp_path
) -> None:
    state_file = tmp_path / "state" / "collector.json"
    run_lookups(orders, 9)
    save_state(state_file, Collector(monitored).collect().state)
    run_lookups(orders, 6)

    restarted = Collector(monitored, state=load_state(state_file))
    snapshot = restarted.collect().snapshot

    assert snapshot.interval.kind == "delta"
    assert statement_on(snapshot, "from orders where customer_id").calls == 6


def test_snapshot_carries_schema_and_server_context(
    orders: psycopg.Connection, monitored: MonitoredDatabase
) -> None:
    orders.execute("CREATE INDEX orders_customer ON orders (customer_id)")
    run_lookups(orders, 2)

    snapshot = Collector(monitored).collect().snapshot

    table = next(t for t in snapshot.tables if t.name == "orders")
    assert table.row_estimate == 20000
    assert {c.name for c in table.columns} >= {"customer_id", "status"}
    status = next(c for c in table.columns if c.name == "status")
    assert status.n_distinct == 2 and status.type == "text"
    index = next(i for i in snapshot.indexes if i.name == "orders_customer")
    assert index.columns == ["customer_id"] and index.is_valid and not index.backs_constraint
    primary = next(i for i in snapshot.indexes if i.is_primary)
    assert primary.backs_constraint
    assert snapshot.server.version.startswith(str(snapshot.server.version_num // 10000))
    assert snapshot.server.is_replica is False
    assert "work_mem" in snapshot.server.settings


def test_statement_sharing_its_queryid_with_the_agents_own_plan_is_still_reported(
    orders: psycopg.Connection, monitored: MonitoredDatabase, db_server: PostgresServer
) -> None:
    # An agent sharing the application's role: the PREPARE behind a generic plan of a statement
    # without constants is a nested entry with the application's queryid and the agent's text.
    # Read by queryid alone, that text could speak for the application's entry and drop it.
    count = "SELECT count(*) FROM orders"
    orders.execute(count)
    Collector(monitored).collect()  # plans it
    entries = orders.execute(
        "SELECT count(DISTINCT query), count(DISTINCT queryid) FROM pg_stat_statements"
        " WHERE (query LIKE %s OR query LIKE %s)"
        " AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
        ["%count(*) FROM orders", "%count(*) FROM orders /* optischema-agent */"],
    ).fetchone()
    if db_server.major < 16:  # before 16 the plan comes from a PREPARE nested under one queryid
        assert entries == (2, 1)  # the application's text and the agent's, one queryid
    for _ in range(6):
        orders.execute(count)

    for _ in range(3):  # whichever entry's text comes first, in a new agent process each time
        snapshot = Collector(monitored).collect().snapshot
        lookup = statement_on(snapshot, "count(*) from orders")
        assert lookup.query.lower() == count.lower()
        assert lookup.calls == 7
