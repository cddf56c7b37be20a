"""The rewrite judge on a real server: cheaper rewrites pass, and nothing it looks at is ever run."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from agent.advise.rewrite_judge import RewriteVerdict, judge_rewrite
from agent.db.session import AgentSession, MonitoredDatabase

SEMI_JOIN = "SELECT * FROM orders WHERE id IN (SELECT id FROM orders WHERE customer_id = $1)"
DIRECT = "SELECT * FROM orders WHERE customer_id = $1"


@pytest.fixture
def orders(db: psycopg.Connection) -> psycopg.Connection:
    """50k orders, 50 per customer, with an index on customer_id, analyzed."""
    db.execute(
        "CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL, "
        "total numeric(10, 2) NOT NULL)"
    )
    db.execute(
        "INSERT INTO orders (customer_id, status, total) "
        "SELECT g % 1000, CASE WHEN g % 10 = 0 THEN 'pending' ELSE 'shipped' END, g % 500 "
        "FROM generate_series(1, 50000) g"
    )
    db.execute("CREATE INDEX orders_customer_id_idx ON orders (customer_id)")
    db.execute("ANALYZE orders")
    return db


@pytest.fixture
def session(orders: psycopg.Connection, db_url: str) -> Iterator[AgentSession]:
    with MonitoredDatabase(db_url) as monitored, monitored.session() as agent_session:
        yield agent_session


def judge(
    session: AgentSession, db: psycopg.Connection, original: str, rewrite: str, **options: float
) -> RewriteVerdict:
    return judge_rewrite(session, original, rewrite, db.info.server_version, **options)


def test_a_cheaper_rewrite_is_accepted_with_both_costs(
    orders: psycopg.Connection, session: AgentSession
) -> None:
    verdict = judge(session, orders, SEMI_JOIN, DIRECT)

    assert verdict.accepted, verdict.reason
    assert verdict.cost_before is not None and verdict.cost_after is not None
    assert verdict.cost_after < verdict.cost_before
    assert verdict.improvement_pct == round(
        100 * (verdict.cost_before - verdict.cost_after) / verdict.cost_before, 1
    )
    assert verdict.reason == (
        f"cost {verdict.cost_before:.1f} -> {verdict.cost_after:.1f} (-{verdict.improvement_pct:.1f}%)"
    )


def test_a_rewrite_that_improves_less_than_required_is_refused(
    orders: psycopg.Connection, session: AgentSession
) -> None:
    verdict = judge(session, orders, SEMI_JOIN, DIRECT, min_improvement_pct=99.9)

    assert not verdict.accepted
    assert verdict.reason.startswith("rewrite is not cheaper enough: cost ")
    assert verdict.reason.endswith(", 99.9% required")
    assert verdict.improvement_pct is not None and 0 < verdict.improvement_pct < 99.9


def test_a_more_expensive_rewrite_is_refused(orders: psycopg.Connection, session: AgentSession) -> None:
    # `customer_id + 0` hides the column from the index: a sequential scan of 50k rows.
    verdict = judge(session, orders, DIRECT, "SELECT * FROM orders WHERE customer_id + 0 = $1")

    assert not verdict.accepted
    assert verdict.reason.startswith("rewrite is not cheaper: cost ")
    assert verdict.cost_before is not None and verdict.cost_after is not None
    assert verdict.cost_after > verdict.cost_before
    assert verdict.improvement_pct is not None and verdict.improvement_pct < 0
    assert f"(+{-verdict.improvement_pct:.1f}%)" in verdict.reason


def test_the_same_text_is_not_an_improvement(orders: psycopg.Connection, session: AgentSession) -> None:
    verdict = judge(session, orders, DIRECT, DIRECT)

    assert not verdict.accepted
    assert verdict.reason.endswith("(+0.0%)") and verdict.improvement_pct == 0.0


def test_a_rewrite_that_does_not_plan_quotes_the_planner(
    orders: psycopg.Connection, session: AgentSession
) -> None:
    verdict = judge(session, orders, DIRECT, "SELECT * FROM nope WHERE customer_id = $1")

    assert not verdict.accepted
    assert verdict.reason == 'the rewrite does not plan: relation "nope" does not exist'
    assert session.fetch_all("SELECT name FROM pg_prepared_statements") == []


def test_a_rewrite_may_not_invent_parameters(orders: psycopg.Connection, session: AgentSession) -> None:
    verdict = judge(session, orders, DIRECT, "SELECT * FROM orders WHERE customer_id = $1 AND status = $2")

    assert not verdict.accepted
    assert "uses $2, but the original has only 1 parameter to give it" in verdict.reason
    assert session.workload_statements_sent == 0


def test_texts_without_parameters_are_judged_too(orders: psycopg.Connection, session: AgentSession) -> None:
    verdict = judge(
        session,
        orders,
        "SELECT count(*) FROM orders WHERE id IN (SELECT id FROM orders WHERE customer_id = 7)",
        "SELECT count(*) FROM orders WHERE customer_id = 7",
    )

    assert verdict.accepted, verdict.reason


REFUSED_UNSENT = [
    (DIRECT + " FOR UPDATE", "the rewrite is not a read-only SELECT: SELECT ... FOR UPDATE takes row locks"),
    ("SELECT 1; SELECT 2", "the rewrite is not a read-only SELECT: the text holds 2 statements"),
    ("SELECT * INTO orders_copy FROM orders", "SELECT ... INTO creates a table"),
]


@pytest.mark.parametrize(("rewrite", "reason"), REFUSED_UNSENT)
def test_unsafe_rewrites_are_refused_without_a_word_to_the_server(
    orders: psycopg.Connection, session: AgentSession, rewrite: str, reason: str
) -> None:
    verdict = judge(session, orders, DIRECT, rewrite)

    assert not verdict.accepted and reason in verdict.reason
    assert (session.statements_sent, session.workload_statements_sent) == (0, 0)
    assert orders.execute("SELECT to_regclass('orders_copy')").fetchone() == (None,)


def test_an_unsafe_original_is_refused_too(orders: psycopg.Connection, session: AgentSession) -> None:
    verdict = judge(session, orders, SEMI_JOIN + " FOR SHARE", DIRECT)

    assert verdict.reason == "the original is not a read-only SELECT: SELECT ... FOR SHARE takes row locks"
    assert (session.statements_sent, session.workload_statements_sent) == (0, 0)


def test_nextval_is_refused_and_the_sequence_does_not_move(
    orders: psycopg.Connection, session: AgentSession
) -> None:
    orders.execute("CREATE SEQUENCE order_numbers")
    state = "SELECT last_value, is_called FROM order_numbers"
    before = orders.execute(state).fetchone()

    verdict = judge(
        session, orders, DIRECT, "SELECT nextval('order_numbers'), * FROM orders WHERE customer_id = $1"
    )

    assert not verdict.accepted and "calls nextval()" in verdict.reason
    assert orders.execute(state).fetchone() == before == (1, False)
    assert (session.statements_sent, session.workload_statements_sent) == (0, 0)


def test_a_data_modifying_cte_is_refused_and_no_row_goes(
    orders: psycopg.Connection, session: AgentSession
) -> None:
    verdict = judge(
        session, orders, DIRECT, "WITH d AS (DELETE FROM orders RETURNING *) SELECT count(*) FROM d"
    )

    assert not verdict.accepted and "contains a DELETE, which modifies data" in verdict.reason
    assert orders.execute("SELECT count(*) FROM orders").fetchone() == (50000,)
    assert (session.statements_sent, session.workload_statements_sent) == (0, 0)


AUDIT_FUNCTION = """
CREATE FUNCTION audit_hit(order_id bigint) RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    INSERT INTO audit VALUES (order_id);
    RETURN order_id;
END
$$
"""
AUDITED = "SELECT id, audit_hit(id) FROM orders WHERE id IN (SELECT id FROM orders WHERE customer_id = $1)"


@pytest.fixture
def audited(orders: psycopg.Connection) -> psycopg.Connection:
    """A volatile function that leaves a row in `audit` every time it really runs."""
    orders.execute("CREATE TABLE audit (order_id bigint)")
    orders.execute(AUDIT_FUNCTION)
    return orders


def calls_of(db: psycopg.Connection, queryid: int) -> int:
    row = db.execute("SELECT sum(calls) FROM pg_stat_statements WHERE queryid = %s", (queryid,)).fetchone()
    assert row is not None
    return int(row[0])


def test_the_queries_are_planned_never_executed(audited: psycopg.Connection, session: AgentSession) -> None:
    # One real run for a customer without orders: pg_stat_statements learns the statement (calls = 1)
    # and audit_hit never runs. Comments and constants do not change a queryid, so the judge's
    # marked, parameterized text would count against this same entry if it were ever executed.
    audited.execute(AUDITED.replace("$1", "%s"), (-1,)).fetchall()
    row = audited.execute(
        "SELECT queryid FROM pg_stat_statements WHERE query = %s AND calls = 1", (AUDITED,)
    ).fetchone()
    assert row is not None
    queryid = int(row[0])

    verdict = judge(session, audited, AUDITED, "SELECT id, id FROM orders WHERE customer_id = $1")

    # Both texts were planned (the costs prove it): the original with its call of audit_hit.
    assert verdict.cost_before is not None and verdict.cost_after is not None, verdict.reason
    assert session.workload_statements_sent > 0
    assert audited.execute("SELECT count(*) FROM audit").fetchone() == (0,)
    assert calls_of(audited, queryid) == 1
    # The check is live: a real run with an actual customer does count, and does write.
    audited.execute(AUDITED.replace("$1", "%s"), (7,)).fetchall()
    assert calls_of(audited, queryid) == 2
    assert audited.execute("SELECT count(*) FROM audit").fetchone() == (50,)


def test_a_rewrite_calling_a_volatile_user_function_is_refused(
    audited: psycopg.Connection, session: AgentSession
) -> None:
    verdict = judge(
        session, audited, SEMI_JOIN, "SELECT *, Public.Audit_Hit(id) FROM orders WHERE customer_id = $1"
    )

    assert not verdict.accepted
    assert verdict.reason.startswith("the rewrite calls volatile function public.audit_hit,")
    # One catalog query decided it; nothing of the workload was sent.
    assert (session.statements_sent, session.workload_statements_sent) == (1, 0)
    assert audited.execute("SELECT count(*) FROM audit").fetchone() == (0,)


def test_a_rewrite_calling_a_stable_user_function_is_judged_on_cost(
    orders: psycopg.Connection, session: AgentSession
) -> None:
    orders.execute(
        "CREATE FUNCTION with_tax(amount numeric) RETURNS numeric LANGUAGE sql STABLE AS 'SELECT amount * 1.2'"
    )

    verdict = judge(
        session,
        orders,
        "SELECT with_tax(total) FROM orders WHERE id IN (SELECT id FROM orders WHERE customer_id = $1)",
        "SELECT with_tax(total) FROM orders WHERE customer_id = $1",
    )

    assert verdict.accepted, verdict.reason
    assert session.statements_sent == 1


def test_a_function_lying_about_its_volatility_cannot_write_while_planned(
    orders: psycopg.Connection, session: AgentSession
) -> None:
    orders.execute("CREATE SEQUENCE ticks")
    orders.execute(
        "CREATE FUNCTION customer_of(x int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS "
        "$$ BEGIN PERFORM nextval('ticks'); RETURN x; END $$"
    )

    # IMMUTABLE with a constant argument: the planner calls it to fold customer_of(7) into 7.
    verdict = judge(session, orders, SEMI_JOIN, "SELECT * FROM orders WHERE customer_id = customer_of(7)")

    assert not verdict.accepted
    assert verdict.reason == (
        "the rewrite does not plan: cannot execute nextval() in a read-only transaction"
    )
    assert orders.execute("SELECT last_value, is_called FROM ticks").fetchone() == (1, False)
    assert session.fetch_all("SELECT name FROM pg_prepared_statements") == []
