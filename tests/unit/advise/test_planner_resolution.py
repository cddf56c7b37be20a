"""Candidates through what the planner flattens: views, inlined CTEs, subqueries, ordinals, aliases."""

from __future__ import annotations

import pytest
from sqlglot import exp

from agent.advise.candidates import candidates_for_statement
from agent.advise.name_resolution import ViewDefinitions
from shared.sql.parsing import parse_single_statement
from tests.unit.advise.test_candidates import table

ORDERS = table("orders", {"id": -1, "customer_id": 5000, "amount": 100, "created_at": -1})
FOO = table("Foo", {"Id": -1, "CustomerId": 5000}, schema="Bar")


def view(definition: str) -> exp.Query:
    parsed = parse_single_statement(definition)
    assert isinstance(parsed, exp.Query)
    return parsed


VIEWS: ViewDefinitions = {
    # As pg_get_viewdef writes it: columns qualified, a trailing semicolon dropped by the reader.
    ("public", "big_orders"): view(
        "SELECT orders.id, orders.customer_id AS cust, orders.amount FROM orders WHERE orders.amount > 10"
    ),
    ("public", "order_totals"): view(
        "SELECT customer_id, sum(amount) AS total FROM orders GROUP BY customer_id"
    ),
}


@pytest.mark.parametrize(
    ("statement", "expected_first_keys"),
    [
        # A view: the outer filter on its renamed column reaches orders.customer_id.
        ("SELECT id FROM big_orders WHERE cust = $1", {("customer_id",)}),
        ("SELECT b.id FROM big_orders b WHERE b.cust = $1", {("customer_id",)}),
        # An inlined CTE (referenced once), also through SELECT *.
        ("WITH c AS (SELECT * FROM orders) SELECT id FROM c WHERE customer_id = $1", {("customer_id",)}),
        (
            "WITH c AS NOT MATERIALIZED (SELECT id, customer_id FROM orders) SELECT * FROM c, c d "
            "WHERE c.customer_id = $1",
            {("customer_id",)},
        ),
        # A subquery in FROM is pulled up too.
        (
            "SELECT s.id FROM (SELECT id, customer_id FROM orders) s WHERE s.customer_id = $1",
            {("customer_id",)},
        ),
        # Ordinals and aliases.
        ("SELECT created_at, id FROM orders ORDER BY 1 DESC LIMIT $1", {("created_at",)}),
        ("SELECT amount, customer_id FROM orders GROUP BY 2, 1", {("customer_id",)}),
        ("SELECT created_at AS c FROM orders GROUP BY c", {("created_at",)}),
        # Quoted mixed-case names keep their case.
        ('SELECT "Id" FROM "Bar"."Foo" WHERE "CustomerId" = $1', {("CustomerId",)}),
    ],
)
def test_the_key_the_planner_sees_is_a_candidate(
    statement: str, expected_first_keys: set[tuple[str, ...]]
) -> None:
    found = candidates_for_statement(statement, [ORDERS, FOO], [], views=VIEWS)
    assert expected_first_keys <= {c.columns[:1] for c in found}


@pytest.mark.parametrize(
    ("statement", "not_proposed"),
    [
        # A materialized CTE is scanned as computed: the outer filter reaches no index.
        (
            "WITH c AS MATERIALIZED (SELECT * FROM orders) SELECT id FROM c WHERE customer_id = $1",
            "customer_id",
        ),
        # Referenced twice: materialized by default.
        ("WITH c AS (SELECT * FROM orders) SELECT c.id FROM c, c d WHERE c.customer_id = $1", "customer_id"),
        # An aggregate's output is not a column of the table (the view's own GROUP BY still counts).
        ("SELECT customer_id FROM order_totals WHERE total = $1", "amount"),
    ],
)
def test_what_the_planner_does_not_flatten_proposes_nothing_outside(
    statement: str, not_proposed: str
) -> None:
    found = candidates_for_statement(statement, [ORDERS], [], views=VIEWS)
    assert (not_proposed,) not in {c.columns[:1] for c in found}


def test_a_materialized_ctes_own_filter_still_counts() -> None:
    statement = "WITH c AS MATERIALIZED (SELECT id FROM orders WHERE customer_id = $1) SELECT * FROM c"
    found = candidates_for_statement(statement, [ORDERS], [])
    assert ("customer_id",) in {c.columns[:1] for c in found}


def test_the_quoted_table_keeps_its_case_into_the_ddl() -> None:
    (first, *_) = candidates_for_statement('SELECT "Id" FROM "Bar"."Foo" WHERE "CustomerId" = $1', [FOO], [])
    assert (first.schema_name, first.table) == ("Bar", "Foo")
    assert 'ON "Bar"."Foo" ("CustomerId"' in first.create_sql()
