"""candidates_for_statement: which B-tree indexes one normalized statement could use."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.advise.candidates import candidates_for_statement
from shared.wire.snapshot import ColumnStats, IndexStats, TableStats
from tests.index_stats import index_stats


def table(name: str, columns: dict[str, float | None], schema: str = "public") -> TableStats:
    """A table whose columns map to their n_distinct (None: never analyzed)."""
    return TableStats(
        schema_name=schema,
        name=name,
        row_estimate=100_000,
        total_bytes=0,
        table_bytes=0,
        index_bytes=0,
        columns=[ColumnStats(name=c, type="int", not_null=True, n_distinct=d) for c, d in columns.items()],
    )


def index(
    table_name: str, *columns: str, valid: bool = True, partial: bool = False, method: str = "btree"
) -> IndexStats:
    name = f"{table_name}_{'_'.join(columns)}_existing"
    return index_stats(
        name, list(columns), table=table_name, valid=valid, partial=partial, method=method, definition=None
    )


# customer_id is far more selective than status; created_at and total were never analyzed.
ORDERS = table("orders", {"id": -1.0, "customer_id": 900.0, "status": 3.0, "created_at": None, "total": None})
CUSTOMERS = table("customers", {"id": -1.0, "email": -1.0, "name": None, "Region": 12.0})
TABLES = [ORDERS, CUSTOMERS]


def keys(sql: str, indexes: list[IndexStats] | None = None, max_width: int = 3) -> list[str]:
    return [c.key() for c in candidates_for_statement(sql, TABLES, indexes or [], max_width=max_width)]


CASES = {
    "single equality column": (
        "SELECT * FROM orders WHERE customer_id = $1",
        ["public.orders(customer_id)"],
    ),
    "composite: equality columns first, most distinct first, then the range": (
        "SELECT * FROM orders WHERE created_at > $1 AND status = $2 AND customer_id = $3",
        [
            "public.orders(created_at)",
            "public.orders(customer_id)",
            "public.orders(customer_id,status)",
            "public.orders(customer_id,status,created_at)",
            "public.orders(status)",
        ],
    ),
    "range written parameter first is still a range on the column": (
        "SELECT * FROM orders WHERE $1 <= total AND status = $2",
        ["public.orders(status)", "public.orders(status,total)", "public.orders(total)"],
    ),
    "between is a range": (
        "SELECT * FROM orders WHERE status = $1 AND created_at BETWEEN $2 AND $3",
        ["public.orders(created_at)", "public.orders(status)", "public.orders(status,created_at)"],
    ),
    "equality then ORDER BY (direction ignored)": (
        "SELECT * FROM orders o WHERE o.status = $1 ORDER BY o.created_at DESC LIMIT $2",
        ["public.orders(created_at)", "public.orders(status)", "public.orders(status,created_at)"],
    ),
    "an ORDER BY key fixed by equality drops out of the sort": (
        "SELECT * FROM orders WHERE customer_id = $1 ORDER BY customer_id, created_at",
        ["public.orders(created_at)", "public.orders(customer_id)", "public.orders(customer_id,created_at)"],
    ),
    "join keys on both sides": (
        "SELECT * FROM orders o JOIN customers c ON c.id = o.customer_id",
        ["public.customers(id)", "public.orders(customer_id)"],
    ),
    "JOIN USING is a join key on both sides": (
        "SELECT * FROM orders JOIN customers USING (id)",
        ["public.customers(id)", "public.orders(id)"],
    ),
    "GROUP BY after the equality columns; the grouping key widened to cover the filter": (
        "SELECT customer_id, count(*) FROM orders WHERE status = $1 GROUP BY customer_id",
        [
            "public.orders(customer_id)",
            "public.orders(customer_id,status)",
            "public.orders(status)",
            "public.orders(status,customer_id)",
        ],
    ),
    "IN list is an equality": (
        "SELECT * FROM orders WHERE status IN ($1, $2, $3)",
        ["public.orders(status)"],
    ),
    "IS NULL is an equality": (
        "SELECT * FROM orders WHERE total IS NULL AND customer_id = $1",
        ["public.orders(customer_id)", "public.orders(customer_id,total)", "public.orders(total)"],
    ),
    "LIKE with a literal prefix is a range": (
        "SELECT * FROM customers WHERE name LIKE 'Sm%'",
        ["public.customers(name)"],
    ),
    "LIKE with a parameter could start with a wildcard": (
        "SELECT * FROM customers WHERE name LIKE $1",
        [],
    ),
    "expression predicate gives an expression key": (
        "SELECT * FROM customers WHERE lower(email) = $1",
        ["public.customers(lower(email))"],
    ),
    "an operator is not a key (only function calls are)": (
        "SELECT * FROM customers c WHERE c.name || c.email = $1",
        [],
    ),
    "a cast is an expression key": (
        "SELECT * FROM orders WHERE created_at::date = $1",
        ["public.orders(CAST(created_at AS DATE))"],
    ),
    "an expression with a parameter inside cannot be indexed": (
        "SELECT * FROM orders WHERE date_trunc($1, created_at) = $2",
        [],
    ),
    "alias and unqualified columns resolve to the one table that has them": (
        "SELECT * FROM orders o JOIN customers c ON c.id = o.customer_id WHERE status = $1 AND name = $2",
        [
            "public.customers(id)",
            "public.customers(id,name)",
            "public.customers(name)",
            "public.orders(customer_id)",
            "public.orders(customer_id,status)",  # the join key is the more selective equality
            "public.orders(status)",
        ],
    ),
    "an ambiguous unqualified column is ignored": (
        "SELECT * FROM orders o JOIN customers c ON c.id = o.customer_id WHERE id = $1",
        ["public.customers(id)", "public.orders(customer_id)"],
    ),
    "quoted mixed-case column keeps its spelling": (
        'SELECT * FROM customers WHERE "Region" = $1',
        ["public.customers(Region)"],
    ),
    "a CTE name is not a table, but the CTE body is read": (
        "WITH orders AS MATERIALIZED (SELECT * FROM customers WHERE name = $1) SELECT * FROM orders WHERE id = $2",
        ["public.customers(name)"],
    ),
    "an inlined CTE passes the outer filter through to its table": (
        "WITH orders AS (SELECT * FROM customers WHERE name = $1) SELECT * FROM orders WHERE id = $2",
        ["public.customers(id)", "public.customers(id,name)", "public.customers(name)"],
    ),
    "subqueries are descended into (and `*` only reads the level it is written at)": (
        "SELECT * FROM orders WHERE customer_id IN (SELECT id FROM customers WHERE email = $1)",
        ["public.customers(email)", "public.customers(email,id)", "public.orders(customer_id)"],
    ),
    "a correlated comparison is a join key, not a constant": (
        "SELECT * FROM orders o WHERE o.total > (SELECT avg(i.total) FROM orders i"
        " WHERE i.customer_id = o.customer_id)",
        ["public.orders(customer_id)", "public.orders(customer_id,total)"],
    ),
    "a column compared to its own table is not searchable": (
        "SELECT * FROM orders WHERE customer_id = id + $1",
        [],
    ),
    "OR branches do not restrict every row": (
        "SELECT * FROM orders WHERE customer_id = $1 OR status = $2",
        [],
    ),
    "UPDATE reads its WHERE clause": (
        "UPDATE orders SET status = $1 WHERE customer_id = $2",
        ["public.orders(customer_id)"],
    ),
    "DELETE ... USING joins": (
        'DELETE FROM orders o USING customers c WHERE c.id = o.customer_id AND c."Region" = $1',
        [
            "public.customers(Region)",
            "public.customers(id)",
            "public.customers(id,Region)",
            "public.orders(customer_id)",
        ],
    ),
    "INSERT ... SELECT reads the SELECT": (
        "INSERT INTO orders (customer_id) SELECT id FROM customers WHERE email = $1",
        ["public.customers(email)", "public.customers(email,id)"],
    ),
    "INSERT ... VALUES has nothing to search": (
        "INSERT INTO orders (customer_id, status) VALUES ($1, $2)",
        [],
    ),
    "pg_stat_statements text is repaired before parsing": (
        "SELECT * FROM orders WHERE created_at > date $1 AND customer_id IN ($2,$3)",
        ["public.orders(created_at)", "public.orders(customer_id)", "public.orders(customer_id,created_at)"],
    ),
    "unknown table is ignored": ("SELECT * FROM invoices WHERE customer_id = $1", []),
    "garbage text": ("this is not sql at all ((", []),
    "two statements": ("SELECT * FROM orders WHERE id = $1; SELECT 1", []),
    "utility statement": ("VACUUM orders", []),
}


@pytest.mark.parametrize(("sql", "expected"), CASES.values(), ids=CASES.keys())
def test_candidates(sql: str, expected: list[str]) -> None:
    assert keys(sql) == expected


def test_composites_are_capped_at_max_width() -> None:
    sql = "SELECT * FROM orders WHERE customer_id = $1 AND status = $2 AND created_at > $3"
    assert "public.orders(customer_id,status)" in keys(sql, max_width=2)
    assert all(key.count(",") <= 1 for key in keys(sql, max_width=2))
    assert all("," not in key for key in keys(sql, max_width=1))


def test_skips_what_an_existing_btree_covers_as_a_prefix() -> None:
    sql = "SELECT * FROM orders WHERE status = $1 AND customer_id = $2"
    assert keys(sql, [index("orders", "customer_id", "status", "created_at")]) == ["public.orders(status)"]


@pytest.mark.parametrize(
    "existing",
    [
        index("orders", "customer_id", partial=True),
        index("orders", "customer_id", valid=False),
        index("orders", "customer_id", method="hash"),
        index("orders", "status", "customer_id"),  # not a prefix
        index("customers", "customer_id"),  # another table
    ],
    ids=["partial", "invalid", "hash", "other-order", "other-table"],
)
def test_does_not_count_as_covering(existing: IndexStats) -> None:
    assert keys("SELECT * FROM orders WHERE customer_id = $1", [existing]) == ["public.orders(customer_id)"]


def test_schema_qualified_and_same_named_tables() -> None:
    tables = [table("events", {"kind": None}), table("events", {"kind": None}, schema="audit")]
    found = candidates_for_statement("SELECT * FROM audit.events WHERE kind = $1", tables, [])
    assert [c.key() for c in found] == ["audit.events(kind)"]
    # Unqualified: search_path is unknown, public is PostgreSQL's default.
    found = candidates_for_statement("SELECT * FROM events WHERE kind = $1", tables, [])
    assert [c.key() for c in found] == ["public.events(kind)"]


def test_self_join_keeps_each_side_apart() -> None:
    sql = "SELECT * FROM orders a JOIN orders b ON b.id = a.customer_id WHERE a.status = $1"
    # (customer_id, status) serves side a; side b is looked up by id alone, never with status.
    assert keys(sql) == [
        "public.orders(customer_id)",
        "public.orders(customer_id,status)",
        "public.orders(id)",
        "public.orders(status)",
    ]


COVERING = {
    "the columns a query reads are appended to its key list when they fit": (
        "SELECT total FROM orders WHERE customer_id = $1",
        ["public.orders(customer_id)", "public.orders(customer_id,total)"],
    ),
    "one column more than a key list: the range's key and three columns it reads": (
        "SELECT total, created_at, status FROM orders WHERE customer_id = $1",
        ["public.orders(customer_id)", "public.orders(customer_id,total,created_at,status)"],
    ),
    "not when they do not fit in the covering width": (
        "SELECT id, total, created_at, status FROM orders WHERE customer_id = $1",
        ["public.orders(customer_id)"],
    ),
    "SELECT * reads every column": (
        "SELECT * FROM orders WHERE customer_id = $1",
        ["public.orders(customer_id)"],
    ),
    "t.* reads every column of t": (
        "SELECT o.* FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.email = $1",
        [
            "public.customers(email)",
            "public.customers(email,id)",
            "public.customers(id)",
            "public.customers(id,email)",
            "public.orders(customer_id)",
        ],
    ),
    "EXISTS (SELECT * ...) reads only what its conditions name": (
        "SELECT id FROM customers c WHERE EXISTS (SELECT * FROM orders o WHERE o.customer_id = c.id"
        " AND o.total > o.status)",
        ["public.customers(id)", "public.orders(customer_id)", "public.orders(customer_id,total,status)"],
    ),
    "aggregates and HAVING count as read": (
        "SELECT customer_id FROM orders GROUP BY customer_id HAVING sum(total) > $1",
        ["public.orders(customer_id)", "public.orders(customer_id,total)"],
    ),
    "UPDATE visits the row anyway: nothing to cover": (
        "UPDATE orders SET status = $1 WHERE customer_id = $2 AND total > $3",
        ["public.orders(customer_id)", "public.orders(customer_id,total)", "public.orders(total)"],
    ),
}


@pytest.mark.parametrize(("sql", "expected"), COVERING.values(), ids=COVERING.keys())
def test_covering_widenings(sql: str, expected: list[str]) -> None:
    assert keys(sql) == expected


def test_a_covering_widening_of_what_an_existing_index_serves_is_still_proposed() -> None:
    # (customer_id) is covered by the existing index; (customer_id, total) is not, and can skip the table.
    existing = [index("orders", "customer_id", "id")]
    assert keys("SELECT total FROM orders WHERE customer_id = $1", existing) == [
        "public.orders(customer_id,total)"
    ]


def unique(table_name: str, *columns: str) -> IndexStats:
    return index(table_name, *columns).model_copy(update={"is_unique": True})


def test_no_covering_widening_for_a_point_lookup_a_unique_index_answers() -> None:
    assert keys("SELECT total FROM orders WHERE id = $1", [unique("orders", "id")]) == []


def test_a_join_through_a_unique_key_is_still_widened() -> None:
    sql = "SELECT c.name FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.total > $1"
    assert "public.customers(id,name)" in keys(sql, [unique("customers", "id")])


def test_the_covering_width_is_its_own_bound() -> None:
    sql = "SELECT total, created_at, status FROM orders WHERE customer_id = $1"
    widened = "public.orders(customer_id,total,created_at,status)"
    assert widened not in [c.key() for c in candidates_for_statement(sql, TABLES, [], max_covering_width=3)]
    assert widened in [c.key() for c in candidates_for_statement(sql, TABLES, [], max_width=2)]


def test_without_covering_only_key_lists() -> None:
    found = candidates_for_statement(
        "SELECT total FROM orders WHERE customer_id = $1", TABLES, [], covering=False
    )
    assert [c.key() for c in found] == ["public.orders(customer_id)"]


def test_result_is_deterministic() -> None:
    sql = "SELECT * FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.status = $1"
    assert keys(sql) == keys(sql) == sorted(keys(sql), key=lambda k: (k.split("(")[0], k))


def test_max_width_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_width"):
        candidates_for_statement("SELECT 1", TABLES, [], max_width=0)


SQL_WORDS_TEXT = """
    SELECT * FROM orders customers o c WHERE AND OR = < ( ) $1 , JOIN ON o.id c.id id status lower( IN
    BETWEEN LIKE 'a%' WITH AS UPDATE SET DELETE USING ORDER BY GROUP LATERAL UNION INSERT INTO VALUES
    IS NULL NOT EXISTS ; x "X" ::date
"""
SQL_WORDS = st.sampled_from(SQL_WORDS_TEXT.split())


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.lists(SQL_WORDS, max_size=25).map(" ".join)))
def test_any_text_gives_a_list_and_never_raises(text: str) -> None:
    assert isinstance(candidates_for_statement(text, TABLES, []), list)
