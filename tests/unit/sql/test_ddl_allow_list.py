"""The allow-list admits exactly three shapes of change and refuses everything else with a reason."""

from __future__ import annotations

import pytest

from shared.sql.ddl_allow_list import AllowedDdl, DdlRefused, admit_ddl

ADMITTED: list[tuple[str, str, str | None, str | None, str | None, bool]] = [
    # text, kind, schema, table, index name, unique
    (
        'CREATE INDEX CONCURRENTLY "orders_customer_id_idx" ON "public"."orders" ("customer_id");',
        "create_index", "public", "orders", "orders_customer_id_idx", False,
    ),
    (
        "CREATE UNIQUE INDEX CONCURRENTLY Orders_Email_Key ON Orders USING btree (lower(email)) "
        "WHERE deleted_at IS NULL",
        "create_index", None, "orders", "orders_email_key", True,
    ),
    (
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON s.t (a DESC NULLS LAST) INCLUDE (b)",
        "create_index", "s", "t", "i", False,
    ),
    (
        "CREATE INDEX CONCURRENTLY i ON t USING gin (doc jsonb_path_ops) WITH (fastupdate = off)",
        "create_index", None, "t", "i", False,
    ),
    (
        "CREATE INDEX CONCURRENTLY i ON t (status) WHERE status = 'it''s active'",
        "create_index", None, "t", "i", False,
    ),
    ('DROP INDEX CONCURRENTLY IF EXISTS "public"."MixedCase_idx";', "drop_index", "public", None, "MixedCase_idx", False),
    ("DROP INDEX CONCURRENTLY i", "drop_index", None, None, "i", False),
    ("ANALYZE public.orders", "analyze", "public", "orders", None, False),
    ("analyze orders;", "analyze", None, "orders", None, False),
]  # fmt: skip


@pytest.mark.parametrize(("text", "kind", "schema", "table", "index_name", "unique"), ADMITTED)
def test_admitted_change_is_described_as_the_catalog_spells_it(
    text: str, kind: str, schema: str | None, table: str | None, index_name: str | None, unique: bool
) -> None:
    change = admit_ddl(text)

    assert isinstance(change, AllowedDdl)
    assert (change.kind, change.schema, change.table, change.index_name, change.unique) == (
        kind,
        schema,
        table,
        index_name,
        unique,
    )
    assert not change.sql.endswith(";")
    assert change.normalized_sql


REFUSED: list[tuple[str, str, str]] = [
    # name, text, a phrase of the reason
    ("drop table", "DROP TABLE orders", "DROP TABLE statement is not on the agent's allow-list"),
    ("alter table", "ALTER TABLE orders ADD COLUMN x int", "ALTER TABLE statement is not on"),
    ("truncate", "TRUNCATE orders", "TRUNCATE statement is not on"),
    ("do block", "DO $$ BEGIN DELETE FROM orders; END $$", "DO statement is not on"),
    ("do block in one statement", "DO $$ BEGIN NULL END $$", "DO statement is not on"),
    ("do block without dollars", "DO 'BEGIN NULL; END'", "DO statement is not on"),
    ("vacuum", "VACUUM orders", "VACUUM statement is not on"),
    ("reindex", "REINDEX INDEX CONCURRENTLY i", "REINDEX statement is not on"),
    ("delete", "DELETE FROM orders", "DELETE statement is not on"),
    ("create table", "CREATE TABLE t (a int)", "CREATE TABLE statement is not on"),
    ("create function", "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'", "not on"),
    ("two statements", "CREATE INDEX CONCURRENTLY i ON t (a); DROP TABLE t", "more than one statement"),
    ("two allowed statements", "ANALYZE t; ANALYZE u;", "more than one statement"),
    ("smuggled in a string", "CREATE INDEX CONCURRENTLY i ON t (a) WHERE s = E'\\'' ; DROP TABLE t; --'", "comments"),
    ("escape string", "CREATE INDEX CONCURRENTLY i ON t (a) WHERE s = E'x'", "plain '...' string literals"),
    ("backslash", "CREATE INDEX CONCURRENTLY i ON t (a) WHERE s = '\\' ", "backslashes"),
    ("block comment", "CREATE INDEX CONCURRENTLY i ON t (a) /* ; DROP TABLE t */", "comments"),
    ("nested comment", "CREATE INDEX CONCURRENTLY i ON t (a) /* /* */ DROP TABLE t */", "comments"),
    ("line comment", "CREATE INDEX CONCURRENTLY i ON t (a) -- ; DROP TABLE t", "comments"),
    ("dollar quoted", "CREATE INDEX CONCURRENTLY i ON t (a) WHERE s = $q$x$q$", "plain '...' string literals"),
    ("without concurrently", "CREATE INDEX i ON orders (customer_id)", "without CONCURRENTLY blocks every write"),
    ("unique without concurrently", "CREATE UNIQUE INDEX i ON orders (a)", "without CONCURRENTLY"),
    ("unnamed index", "CREATE INDEX CONCURRENTLY ON orders (customer_id)", "has no name"),
    ("tablespace", "CREATE INDEX CONCURRENTLY i ON t (a) TABLESPACE fast", "TABLESPACE is not on"),
    ("only", "CREATE INDEX CONCURRENTLY i ON ONLY t (a)", "could not be parsed"),
    ("volatile function", "CREATE INDEX CONCURRENTLY i ON t ((random()))", "volatile"),
    ("sequence in an index", "CREATE INDEX CONCURRENTLY i ON t (nextval('s'))", "nextval()"),
    ("sleep in a predicate", "CREATE INDEX CONCURRENTLY i ON t (a) WHERE pg_sleep(1) IS NULL", "pg_sleep()"),
    ("subquery", "CREATE INDEX CONCURRENTLY i ON t ((SELECT 1))", "subqueries"),
    ("name too long", f"CREATE INDEX CONCURRENTLY {'x' * 64} ON t (a)", "longer than 63 bytes"),
    ("drop without concurrently", "DROP INDEX i", "without CONCURRENTLY locks the table"),
    ("drop cascade", "DROP INDEX CONCURRENTLY i CASCADE", "CASCADE"),
    ("drop two indexes", "DROP INDEX CONCURRENTLY i, j", "could not be parsed"),
    ("drop view", "DROP VIEW v", "DROP VIEW statement is not on"),
    ("analyze everything", "ANALYZE", "exactly one table"),
    ("analyze two tables", "ANALYZE t, u", "exactly one table"),
    ("analyze verbose", "ANALYZE VERBOSE t", "options"),
    ("analyze columns", "ANALYZE t (a, b)", "exactly one table"),
    ("empty", "   ", "empty"),
    ("only a semicolon", ";", "statements"),
    ("garbage", "CREATE INDEX CONCURRENTLY i ON (", "could not be parsed"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "reason"), [(t, r) for _, t, r in REFUSED], ids=[n for n, _, _ in REFUSED])
def test_anything_off_the_allow_list_is_refused_with_its_reason(text: str, reason: str) -> None:
    with pytest.raises(DdlRefused) as refusal:
        admit_ddl(text)

    assert reason in str(refusal.value)


def test_a_refusal_quotes_no_literal_from_the_statement() -> None:
    with pytest.raises(DdlRefused) as refusal:
        admit_ddl("UPDATE users SET password = 'hunter2' WHERE email = 'a@b.c'")

    assert "hunter2" not in str(refusal.value)
    assert "a@b.c" not in str(refusal.value)


def test_the_text_to_run_is_the_approved_text_without_its_trailing_semicolon() -> None:
    change = admit_ddl("  CREATE INDEX CONCURRENTLY i ON t (a)  ;  ")

    assert change.sql == "CREATE INDEX CONCURRENTLY i ON t (a)"
