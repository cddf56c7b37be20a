"""Statement shapes every application has, each with its expected advice, on a real PostgreSQL.

Each row plants its own schema and data, runs a workload through the server (so pg_stat_statements
keeps the text as it keeps an application's), runs `optischema-agent advise`, and expects either a
recommendation (table, leading columns, tier) or a skip reason for the statement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest

from tests.integration.advise.conftest import advise, fresh_statistics, run

ORDERS = """
CREATE TABLE shop_orders (id int PRIMARY KEY, customer_id int NOT NULL, amount int NOT NULL,
                          created_at timestamptz NOT NULL, note text);
INSERT INTO shop_orders
SELECT g, g % 4000, g % 500, timestamptz '2024-01-01' + g * interval '1 minute', md5(g::text)
  FROM generate_series(1, 120000) g;
"""


@dataclass(frozen=True)
class Recommended:
    table: str
    leading: tuple[str, ...]
    tier: str = "verified"


@dataclass(frozen=True)
class Skipped:
    reason: str  # a fragment of the reason


@dataclass(frozen=True)
class Case:
    setup: str
    workload: list[tuple[str, list[list[Any]]]]
    expected: Recommended | Skipped
    query_fragment: str = ""  # which skipped statement (for Skipped); default: the first workload text
    analyze: bool = True
    after_analyze: str = ""  # run after ANALYZE: a table ANALYZE never saw
    extra: list[Recommended] = field(default_factory=list)


POINT = [[n] for n in range(0, 40, 2)]

EVENTS = """
CREATE TABLE events (id int, day date NOT NULL, customer_id int, payload text) PARTITION BY RANGE (day);
CREATE TABLE events_1 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2024-02-01');
CREATE TABLE events_2 PARTITION OF events FOR VALUES FROM ('2024-02-01') TO ('2024-03-01');
CREATE TABLE events_3 PARTITION OF events FOR VALUES FROM ('2024-03-01') TO ('2024-04-01');
INSERT INTO events SELECT g, date '2024-01-01' + (g % 90), g % 5000, md5(g::text)
  FROM generate_series(1, 300000) g;
"""
EVENT_POINTS = [[f"2024-0{1 + n % 3}-1{n % 9}", n] for n in range(20)]

CASES: dict[str, Case] = {
    "a filter through a view reaches the view's base table": Case(
        ORDERS + "CREATE VIEW big_orders AS SELECT id, customer_id AS cust, amount FROM shop_orders"
        " WHERE amount > 10;",
        [("SELECT id, amount FROM big_orders WHERE cust = %s", POINT)],
        Recommended("public.shop_orders", ("customer_id",)),
    ),
    "a view over a view": Case(
        ORDERS + "CREATE VIEW v1 AS SELECT * FROM shop_orders;"
        " CREATE VIEW v2 AS SELECT id, customer_id, note FROM v1;",
        [("SELECT note FROM v2 WHERE customer_id = %s", POINT)],
        Recommended("public.shop_orders", ("customer_id",)),
    ),
    "an inlined CTE (referenced once) passes the outer filter to its table": Case(
        ORDERS,
        [
            (
                "WITH recent AS (SELECT id, customer_id, amount FROM shop_orders) "
                "SELECT id, amount FROM recent WHERE customer_id = %s",
                POINT,
            )
        ],
        Recommended("public.shop_orders", ("customer_id",)),
    ),
    "a NOT MATERIALIZED CTE referenced twice is inlined too": Case(
        ORDERS,
        [
            (
                "WITH o AS NOT MATERIALIZED (SELECT * FROM shop_orders) "
                "SELECT a.id, b.id FROM o a JOIN o b ON b.id = a.id + 1 WHERE a.customer_id = %s",
                POINT,
            )
        ],
        Recommended("public.shop_orders", ("customer_id",)),
    ),
    "a materialized CTE: its body's own filter counts": Case(
        ORDERS,
        [
            (
                "WITH m AS MATERIALIZED (SELECT id, amount FROM shop_orders WHERE customer_id = %s) "
                "SELECT sum(amount) FROM m",
                POINT,
            )
        ],
        Recommended("public.shop_orders", ("customer_id",)),
    ),
    "ORDER BY 1 resolves to the select list's first column": Case(
        ORDERS,
        [("SELECT created_at, id FROM shop_orders ORDER BY 1 DESC LIMIT %s", [[10]] * 20)],
        Recommended("public.shop_orders", ("created_at",)),
    ),
    "ORDER BY an alias resolves to its column": Case(
        ORDERS,
        [("SELECT created_at AS placed, id FROM shop_orders ORDER BY placed DESC LIMIT %s", [[10]] * 20)],
        Recommended("public.shop_orders", ("created_at",)),
    ),
    "quoted mixed-case schema, table and column names keep their case": Case(
        'CREATE SCHEMA "Bar"; CREATE TABLE "Bar"."Foo" ("Id" int PRIMARY KEY, "CustomerId" int, "Note" text);'
        ' INSERT INTO "Bar"."Foo" SELECT g, g % 4000, md5(g::text) FROM generate_series(1, 120000) g;',
        [('SELECT "Id", "Note" FROM "Bar"."Foo" WHERE "CustomerId" = %s', POINT)],
        Recommended("Bar.Foo", ("CustomerId",)),
    ),
    "a partitioned table before 16: start-up pruning no longer hides the index": Case(
        EVENTS,
        [("SELECT id, payload FROM events WHERE day = %s AND customer_id = %s", EVENT_POINTS)],
        Recommended("public.events", ()),
    ),
    "a statement naming a partition gets the index on that partition": Case(
        EVENTS,
        [("SELECT id, payload FROM events_2 WHERE customer_id = %s", POINT)],
        Recommended("public.events_2", ("customer_id",)),
    ),
    "SELECT 1 reads no table": Case(
        "", [("SELECT 1", [[]] * 5)], Skipped("reads no table"), query_fragment="SELECT $1"
    ),
    "a never-analysed table is skipped with ANALYZE suggested": Case(
        "",
        [("SELECT id FROM fresh_rows WHERE k = %s", POINT)],
        Skipped("ANALYZE public.fresh_rows"),
        after_analyze="CREATE TABLE fresh_rows (id int, k int) WITH (autovacuum_enabled = off);"
        " INSERT INTO fresh_rows SELECT g, g % 100 FROM generate_series(1, 50000) g;",
    ),
    "LIKE with a leading wildcard: an advisory trigram index": Case(
        ORDERS,
        [("SELECT id FROM shop_orders WHERE note LIKE %s", [["%ab12%"]] * 20)],
        Recommended("public.shop_orders", ("note",), tier="advisory"),
    ),
    "ILIKE: an advisory trigram index": Case(
        ORDERS,
        [("SELECT id FROM shop_orders WHERE note ILIKE %s", [["%AB%"]] * 20)],
        Recommended("public.shop_orders", ("note",), tier="advisory"),
    ),
    "jsonb containment: an advisory GIN index": Case(
        "CREATE TABLE profiles (id int PRIMARY KEY, attrs jsonb NOT NULL);"
        " INSERT INTO profiles SELECT g, jsonb_build_object('tier', g % 50) FROM generate_series(1, 50000) g;",
        [("SELECT id FROM profiles WHERE attrs @> %s::jsonb", [['{"tier": 7}']] * 20)],
        Recommended("public.profiles", ("attrs",), tier="advisory"),
    ),
}


def _plant(db: psycopg.Connection, case: Case) -> None:
    if case.setup:
        db.execute(case.setup)
    fresh_statistics(db)
    if case.after_analyze:
        db.execute(case.after_analyze)
        db.execute("SELECT pg_stat_statements_reset()")
    for statement, parameters in case.workload:
        run(db, statement, parameters)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_each_statement_class_gets_its_true_advice(db: psycopg.Connection, db_url: str, case: Case) -> None:
    _plant(db, case)

    report = advise(db_url)

    expected = case.expected
    if isinstance(expected, Recommended):
        found = [
            (r["table"], tuple(r["columns"][: len(expected.leading)]), r["tier"])
            for r in report["recommendations"]
            if r["kind"] == "create_index"
        ]
        assert (expected.table, expected.leading, expected.tier) in found, report
        assert "2024-" not in str(report)  # representative values and literals stay in the agent
    else:
        fragment = case.query_fragment or case.workload[0][0].split(" WHERE")[0].replace("%s", "$1")
        reasons = [s["reason"] for s in report["skipped"] if fragment in (s["query"] or "")]
        assert reasons and expected.reason in reasons[0], report
        assert not [r for r in report["recommendations"] if r["kind"] == "create_index"], report


def test_the_trigram_idea_is_executable_ddl_with_its_extension(db: psycopg.Connection, db_url: str) -> None:
    _plant(db, CASES["LIKE with a leading wildcard: an advisory trigram index"])

    report = advise(db_url)

    (idea,) = [
        r for r in report["recommendations"] if r["tier"] == "advisory" and r["kind"] == "create_index"
    ]
    assert "USING gin (note gin_trgm_ops)" in idea["sql"] and idea["sql"].startswith(
        "CREATE INDEX CONCURRENTLY"
    )
    assert "pg_trgm" in idea["rationale"] and "CREATE EXTENSION pg_trgm;" in idea["rationale"]
    assert "%ab12%" not in str(report)  # the pattern sent is a literal: it never comes out
    db.execute("CREATE EXTENSION pg_trgm")
    db.execute(idea["sql"])  # it builds as written
    db.execute(idea["rollback_sql"])


def test_catalog_statements_are_listed_under_skipped(db: psycopg.Connection, db_url: str) -> None:
    fresh_statistics(db)
    run(db, "SELECT relname FROM pg_class WHERE relname = %s", [["x"]] * 5)

    report = advise(db_url)

    # Two: the pg_class lookup, and fresh_statistics' own pg_stat_statements_reset() call.
    (catalog,) = [s for s in report["skipped"] if "system catalogs" in s["reason"]]
    assert catalog["reason"].startswith("2 statement(s)"), catalog
    assert report["statements_analyzed"] == 0


def test_partition_advice_is_the_same_on_every_run(db: psycopg.Connection, db_url: str) -> None:
    db.execute(EVENTS)
    # A settled visibility map: autovacuum setting it between runs would change index-only scan
    # costs (the database changing, not the advisor wavering).
    db.execute("VACUUM (ANALYZE)")
    db.execute("SELECT pg_stat_statements_reset()")
    run(db, "SELECT id, payload FROM events WHERE day = %s AND customer_id = %s", EVENT_POINTS)
    run(db, "SELECT id FROM events_3 WHERE customer_id = %s", POINT)

    reports = [advise(db_url) for _ in range(5)]

    advice = [[(r["id"], r["sql"]) for r in report["recommendations"]] for report in reports]
    # Named by what differs, in a string pytest does not shorten: one CI run under load failed here
    # with the lists cut to "...", and the run could not be repeated alone (4 of 4 passed).
    differing = {n: sorted(set(each) ^ set(advice[0])) for n, each in enumerate(advice) if each != advice[0]}
    assert advice[0] and not differing, f"runs that differ from the first, by: {differing}"
    tables = {r["table"] for r in reports[0]["recommendations"] if r["kind"] == "create_index"}
    assert "public.events" in tables, reports[0]
    # The representative values were bound, never written into text pg_stat_statements keeps.
    texts = [
        row[0]
        for row in db.execute("SELECT query FROM pg_stat_statements WHERE query LIKE '%representative%'")
    ]
    assert texts and not [text for text in texts if "2024-" in text], texts
