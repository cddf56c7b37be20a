"""Generic plans of parameterized statements on the installed server: explained, never executed."""

from __future__ import annotations

import psycopg
import pytest

from agent.collect.plans import GENERIC_PLAN_OPTION_VERSION, explain_generic
from agent.db.session import MonitoredDatabase
from shared.sql.statement_boundaries import NotOneStatement

# Debian's PostgreSQL and PostgreSQL 18 alike (tests/conftest.py).
pytestmark = pytest.mark.both_servers


def server_version_num(monitored: MonitoredDatabase) -> int:
    with monitored.session() as session:
        row = session.fetch_one("SELECT current_setting('server_version_num')::int")
    assert row is not None
    return int(row[0])


def test_parameterized_select_gets_a_generic_plan(
    orders: psycopg.Connection, monitored: MonitoredDatabase
) -> None:
    with monitored.session() as session:
        outcome = explain_generic(
            session,
            "SELECT id, total FROM orders WHERE customer_id = $1 AND status = $2",
            server_version_num(monitored),
        )

    assert outcome.error is None
    assert outcome.plan is not None
    assert outcome.plan[0]["Plan"]["Node Type"] == "Seq Scan"
    assert outcome.total_cost > 0


def test_pg_stat_statements_forms_are_repaired_before_planning(
    orders: psycopg.Connection, monitored: MonitoredDatabase
) -> None:
    text = (
        "select count(*) from orders where created_at > date $1 - interval $2 day "
        "and extract($3 from created_at) = $4 and customer_id in ($5,$6)"
    )
    with monitored.session() as session:
        outcome = explain_generic(session, text, server_version_num(monitored))

    assert outcome.error is None, outcome.error


def test_dml_is_explained_never_executed_and_leaves_no_prepared_statement(
    orders: psycopg.Connection, monitored: MonitoredDatabase
) -> None:
    version = server_version_num(monitored)
    with monitored.session() as session:
        deleted = explain_generic(session, "DELETE FROM orders WHERE customer_id = $1", version)
        updated = explain_generic(session, "UPDATE orders SET status = $1 WHERE id = $2", version)
        leftovers = session.fetch_all("SELECT name FROM pg_prepared_statements")

    assert deleted.plan is not None and updated.plan is not None
    assert orders.execute("SELECT count(*) FROM orders").fetchone() == (20000,)
    assert leftovers == []


def test_statement_the_planner_cannot_type_reports_why(
    orders: psycopg.Connection, monitored: MonitoredDatabase
) -> None:
    with monitored.session() as session:
        outcome = explain_generic(session, "SELECT no_such_function($1)", server_version_num(monitored))
        failed = explain_generic(
            session, "SELECT * FROM no_such_table WHERE a = $1", server_version_num(monitored)
        )
        leftovers = session.fetch_all("SELECT name FROM pg_prepared_statements")

    assert outcome.plan is None and outcome.error
    assert failed.plan is None and failed.error and "no_such_table" in failed.error
    assert leftovers == []


def test_two_statements_in_one_text_are_refused_by_the_server(
    orders: psycopg.Connection, monitored: MonitoredDatabase
) -> None:
    with monitored.session() as session:
        outcome = explain_generic(session, "SELECT 1; DROP TABLE orders", server_version_num(monitored))

    assert outcome.plan is None
    assert orders.execute("SELECT to_regclass('orders') IS NOT NULL").fetchone() == (True,)


def test_parameters_with_nothing_to_infer_a_type_from_are_planned_as_numbers(
    orders: psycopg.Connection, monitored: MonitoredDatabase
) -> None:
    # As pg_stat_statements records TPC-H Q12 and Q19: the constants became untyped parameters.
    texts = [
        "SELECT sum(CASE WHEN status = $1 THEN $2 ELSE $3 END) FROM orders WHERE customer_id = $4",
        "SELECT count(*) FROM orders WHERE customer_id BETWEEN $1 AND $2 + $3",
    ]
    with monitored.session() as session:
        outcomes = [explain_generic(session, text, server_version_num(monitored)) for text in texts]
        leftovers = session.fetch_all("SELECT name FROM pg_prepared_statements")

    assert [outcome.error for outcome in outcomes] == [None, None]
    assert leftovers == []


def test_text_holding_two_statements_is_refused_before_anything_is_sent(
    orders: psycopg.Connection, monitored: MonitoredDatabase
) -> None:
    version = server_version_num(monitored)
    with monitored.session() as session:
        with pytest.raises(NotOneStatement):
            session.explain_text("EXPLAIN (FORMAT JSON) SELECT 1; DROP TABLE orders")
        with pytest.raises(NotOneStatement):
            # Block comments nest in PostgreSQL: this one never ends, whatever a reader that does not
            # nest them would make of the `*/` and the `; DROP` after it.
            session.explain_text("EXPLAIN SELECT 1 /* /* */ ; DROP TABLE orders")
        refused = explain_generic(session, "SELECT 1; DROP TABLE orders", version)
        sent = session.workload_statements_sent

    assert orders.execute("SELECT to_regclass('orders') IS NOT NULL").fetchone() == (True,)
    assert refused.plan is None
    if version >= GENERIC_PLAN_OPTION_VERSION:
        # Refused by the agent's own check: not one workload statement went out.
        assert refused.error == "the text holds more than one statement"
        assert sent == 0


def test_generic_plans_run_in_a_read_only_transaction(
    orders: psycopg.Connection, monitored: MonitoredDatabase
) -> None:
    # The volatile function would write if it ran: EXPLAIN never runs it, and were the text ever
    # misjudged, the read-only transaction would refuse the write.
    orders.execute("CREATE SEQUENCE order_numbers")
    with monitored.session() as session:
        outcome = explain_generic(
            session,
            "SELECT nextval('order_numbers') FROM orders WHERE id = $1",
            server_version_num(monitored),
        )
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction), session.rolled_back():
            session.fetch_all("SET LOCAL transaction_read_only = on")
            session.explain_text("EXPLAIN (ANALYZE, FORMAT JSON) SELECT nextval('order_numbers')")

    assert outcome.error is None
    assert orders.execute("SELECT last_value, is_called FROM order_numbers").fetchone() == (1, False)
