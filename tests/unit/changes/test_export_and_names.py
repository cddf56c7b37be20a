"""Job payloads (index names read by the allow-list, refusals before queueing), and exports that are
valid SQL comments and Python."""

from __future__ import annotations

import ast
import uuid
from datetime import UTC, datetime

import pytest

from control_plane.api.errors import Conflict
from control_plane.changes.export import alembic_revision, sql_migration
from control_plane.changes.service import admitted_change, change_payload
from control_plane.models import MonitoredDatabase, Recommendation


@pytest.mark.parametrize(
    ("sql", "name"),
    [
        ("CREATE INDEX CONCURRENTLY orders_a_idx ON public.orders (a);", "orders_a_idx"),
        ('create unique index concurrently if not exists "Orders Idx" on t (a)', "Orders Idx"),
        ("CREATE INDEX CONCURRENTLY Orders_A_Idx ON public.orders (a);", "orders_a_idx"),  # folded
        ("DROP INDEX CONCURRENTLY IF EXISTS public.orders_a_idx;", "orders_a_idx"),
        ('DROP INDEX CONCURRENTLY "public"."odd.name";', "odd.name"),
        ("ANALYZE public.orders", None),
    ],
)
def test_the_payloads_index_name_is_the_allow_lists(sql: str, name: str | None) -> None:
    recommendation = Recommendation(id=uuid.uuid4(), sql=sql, table_name="public.orders")
    payload = change_payload(recommendation, sql, admitted_change(sql, "recommendation's"))
    assert (payload.index_name, payload.sql, payload.table) == (name, sql, "public.orders")


def test_the_payloads_table_falls_back_to_the_statements() -> None:
    sql = 'CREATE INDEX CONCURRENTLY x ON "Sales"."OrderLines" ("order");'
    recommendation = Recommendation(id=uuid.uuid4(), sql=sql, table_name=None)
    assert change_payload(recommendation, sql, admitted_change(sql, "x")).table == "Sales.OrderLines"


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("ALTER TABLE t ADD COLUMN a int", "ALTER TABLE statement is not on the agent's allow-list"),
        ("CREATE INDEX orders_a_idx ON public.orders (a);", "without CONCURRENTLY"),
        ("CREATE INDEX CONCURRENTLY x ON t (a); DROP TABLE t;", "more than one statement"),
        (None, "empty"),
    ],
)
def test_a_statement_the_agent_would_refuse_is_a_409_with_the_reason(sql: str | None, reason: str) -> None:
    with pytest.raises(Conflict) as refused:
        admitted_change(sql, "rollback")
    assert refused.value.status_code == 409
    assert str(refused.value.detail).startswith("the rollback SQL is not a change the agent may run: ")
    assert reason in str(refused.value.detail)


def change(sql: str, rollback: str | None, rationale: str) -> Recommendation:
    return Recommendation(
        id=uuid.uuid4(),
        kind="create_index",
        status="applied",
        sql=sql,
        rollback_sql=rollback,
        rationale=rationale,
    )


def test_exports_quote_whatever_the_sql_and_rationale_contain() -> None:
    database = MonitoredDatabase(id=uuid.uuid4(), name="shop\n-- DROP TABLE x")
    tricky = change(
        'CREATE INDEX CONCURRENTLY "it\'s" ON t ((a || \'"""\'));',
        'DROP INDEX CONCURRENTLY IF EXISTS "it\'s";',
        'multi\nline """ rationale',
    )
    now = datetime(2026, 1, 1, tzinfo=UTC)

    sql = sql_migration(database, [tricky], now)
    module = alembic_revision(database, [tricky], now)

    assert all(line.startswith("--") or line.startswith("CREATE") or not line for line in sql.splitlines())
    namespace: dict[str, object] = {}
    exec(compile(ast.parse(module), "revision.py", "exec"), namespace)  # our own output
    assert namespace["revision"] and namespace["down_revision"] is None
