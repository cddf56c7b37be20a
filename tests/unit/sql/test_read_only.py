"""Which texts pass as one read-only SELECT, and the reason given for each that does not."""

from __future__ import annotations

import pytest

from shared.sql.read_only import ReadOnlyVerdict, called_function_names, check_read_only_select

ACCEPTED = [
    "SELECT 1",
    "select id, total from orders where customer_id = 42;",
    "SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.region = 'eu'",
    "WITH recent AS (SELECT * FROM orders WHERE created_at > now() - interval '1 day') SELECT count(*) FROM recent",
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10) SELECT sum(i) FROM n",
    "SELECT id FROM orders WHERE status = 'a' UNION ALL SELECT id FROM orders WHERE status = 'b'",
    "(SELECT id FROM a) INTERSECT (SELECT id FROM b) EXCEPT SELECT id FROM c ORDER BY 1",
    "SELECT * FROM orders WHERE id IN (SELECT order_id FROM items WHERE sku = 'x') AND EXISTS (SELECT 1 FROM c)",
    "SELECT s.n FROM (SELECT count(*) AS n FROM orders GROUP BY customer_id) s WHERE s.n > 3",
    "SELECT id, row_number() OVER (PARTITION BY customer_id ORDER BY created_at DESC) FROM orders",
    "SELECT * FROM orders WHERE customer_id = $1 AND status = $2 LIMIT $3",
    # pg_stat_statements forms that only parse once repaired
    "select count(*) from orders where created_at > date $1 and customer_id in ($2,$3)",
    "(SELECT 1)",
    "TABLE orders",
    # sqlglot reads a VALUES branch as SELECT * FROM (VALUES ...): read-only either way.
    "SELECT 1 UNION VALUES (2)",
    # Reading is fine, including functions that are volatile but change nothing.
    "SELECT currval('s'), random(), clock_timestamp(), lower(name), pg_catalog.upper(name) FROM t",
    # The words are in strings and comments, not in the statement.
    "SELECT 'FOR UPDATE; DROP TABLE t', nextval_count /* pg_sleep(1) */ FROM t -- FOR SHARE",
    'SELECT "delete" FROM "update"',
]


@pytest.mark.parametrize("text", ACCEPTED)
def test_read_only_selects_are_accepted(text: str) -> None:
    assert check_read_only_select(text) == ReadOnlyVerdict(ok=True, reason=None)


REFUSED = [
    # locking clauses, also in a subquery or with options
    ("SELECT * FROM orders WHERE id = $1 FOR UPDATE", "SELECT ... FOR UPDATE takes row locks"),
    ("SELECT * FROM orders FOR NO KEY UPDATE", "SELECT ... FOR NO KEY UPDATE takes row locks"),
    ("SELECT * FROM orders FOR SHARE OF orders NOWAIT", "SELECT ... FOR SHARE takes row locks"),
    ("SELECT * FROM orders FOR KEY SHARE SKIP LOCKED", "SELECT ... FOR KEY SHARE takes row locks"),
    ("SELECT * FROM (SELECT * FROM orders FOR UPDATE) s", "SELECT ... FOR UPDATE takes row locks"),
    ("SELECT a FROM t UNION SELECT a FROM (SELECT a FROM u FOR SHARE) s", "FOR SHARE takes row locks"),
    # creating a table
    ("SELECT * INTO copy_of_orders FROM orders", "SELECT ... INTO creates a table"),
    ("SELECT * INTO TEMP t FROM orders", "SELECT ... INTO creates a table"),
    # data-modifying CTEs, at the top and nested
    ("WITH d AS (DELETE FROM orders RETURNING *) SELECT count(*) FROM d", "contains a DELETE"),
    ("WITH u AS (UPDATE orders SET total = 0 RETURNING id) SELECT * FROM u", "contains an UPDATE"),
    ("WITH i AS (INSERT INTO log VALUES (1) RETURNING *) SELECT * FROM i", "contains an INSERT"),
    (
        "WITH m AS (MERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN DELETE RETURNING *) SELECT 1",
        "contains a MERGE",
    ),
    (
        "SELECT * FROM orders WHERE id IN "
        "(WITH d AS (DELETE FROM orders WHERE id < 10 RETURNING id) SELECT id FROM d)",
        "contains a DELETE",
    ),
    (
        "WITH outer_cte AS (WITH d AS (UPDATE t SET a = 1 RETURNING a) SELECT a FROM d) SELECT * FROM outer_cte",
        "contains an UPDATE",
    ),
    # more than one statement, even harmless ones
    ("SELECT 1; SELECT 2", "holds 2 statements"),
    ("SELECT 1; DROP TABLE orders", "holds 2 statements"),
    # not a SELECT at all
    ("INSERT INTO orders (id) VALUES (1)", "an INSERT statement is not a SELECT"),
    ("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", "an INSERT statement is not a SELECT"),
    ("UPDATE orders SET total = 0", "an UPDATE statement is not a SELECT"),
    ("DELETE FROM orders", "a DELETE statement is not a SELECT"),
    ("DROP TABLE orders", "a DROP statement is not a SELECT"),
    ("ALTER TABLE orders ADD COLUMN x int", "an ALTER statement is not a SELECT"),
    ("CREATE TABLE x AS SELECT * FROM orders", "CREATE statement is not a SELECT"),
    ("COPY orders TO '/tmp/orders.csv'", "COPY statement is not a SELECT"),
    ("SET statement_timeout = 0", "SET statement is not a SELECT"),
    ("TRUNCATE orders", "TRUNCATE"),
    ("EXPLAIN ANALYZE SELECT 1", "an EXPLAIN statement is not a SELECT"),
    ("DO $$ BEGIN DELETE FROM orders; END $$", "DO statement is not a SELECT"),
    ("VALUES (1), (2)", "VALUES statement is not a SELECT"),
    # side-effecting or waiting built-ins, however they are spelled
    ("SELECT nextval('order_numbers')", "calls nextval()"),
    ("SELECT NEXTVAL('s'), * FROM orders", "calls nextval()"),
    ("SELECT setval('s', 1)", "calls setval()"),
    ("SELECT pg_sleep(5)", "calls pg_sleep()"),
    ("SELECT pg_sleep_for('5 minutes')", "calls pg_sleep_for()"),
    ("SELECT set_config('work_mem', '1GB', false)", "calls set_config()"),
    ("SELECT pg_advisory_lock(1)", "calls pg_advisory_lock()"),
    ("SELECT pg_try_advisory_xact_lock(1)", "calls pg_try_advisory_xact_lock()"),
    ("SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_stat_activity", "calls pg_terminate_backend()"),
    ('SELECT "pg_cancel_backend"(1)', "calls pg_cancel_backend()"),
    ("SELECT * FROM orders WHERE id = (SELECT txid_current())", "calls txid_current()"),
    ("SELECT pg_notify('c', 'x')", "calls pg_notify()"),
    ("SELECT lo_import('/etc/passwd')", "calls lo_import()"),
    ("SELECT * FROM dblink('dbname=x', 'DELETE FROM t') AS t(a int)", "calls dblink()"),
    ("SELECT query_to_xml('DELETE FROM orders', true, false, '')", "calls query_to_xml()"),
    ("SELECT pg_read_file('/etc/passwd')", "calls pg_read_file()"),
    ("SELECT * FROM pg_ls_dir('.')", "calls pg_ls_dir()"),
    ("SELECT pg_stat_reset_shared('bgwriter')", "calls pg_stat_reset_shared()"),
    (
        "SELECT pg_create_logical_replication_slot('s', 'pgoutput')",
        "calls pg_create_logical_replication_slot()",
    ),
    ("SELECT count(*) FILTER (WHERE pg_reload_conf()) FROM t", "calls pg_reload_conf()"),
    # text that is not SQL
    ("this is not sql at all", "could not be parsed"),
    ("SELECT * FROM WHERE", "could not be parsed"),
    ("", "holds 0 statements"),
]


@pytest.mark.parametrize(("text", "reason"), REFUSED)
def test_everything_else_is_refused_with_a_reason(text: str, reason: str) -> None:
    verdict = check_read_only_select(text)

    assert not verdict.ok
    assert verdict.reason is not None and reason in verdict.reason


def test_reasons_never_quote_the_text() -> None:
    # The reason may travel to logs and the control plane; the text may hold customer data.
    for text in ("SELECT secret_4711 FROM t FOR UPDATE", "SELECT 'secret_4711' garbage garbage ("):
        verdict = check_read_only_select(text)
        assert verdict.reason is not None and "4711" not in verdict.reason


def test_overlong_text_is_refused_before_parsing() -> None:
    verdict = check_read_only_select("SELECT " + "1 + " * 60_000 + "1")

    assert verdict.reason is not None and "longer than" in verdict.reason


def test_called_function_names_are_lowercase_and_schema_free() -> None:
    names = called_function_names("SELECT public.Audit_Hit(id), count(*) FROM t GROUP BY 1")

    assert "audit_hit" in names and "count" in names
    assert called_function_names("SELECT id FROM t") == frozenset()
    assert called_function_names("not sql (") == frozenset()
