"""Index names for the agent's catalog checks, and exports that are valid SQL comments and Python."""

from __future__ import annotations

import ast
import uuid
from datetime import UTC, datetime

import pytest

from control_plane.changes.export import alembic_revision, sql_migration
from control_plane.changes.service import index_name_of
from control_plane.models import MonitoredDatabase, Recommendation


@pytest.mark.parametrize(
    ("sql", "name"),
    [
        ("CREATE INDEX CONCURRENTLY orders_a_idx ON public.orders (a);", "orders_a_idx"),
        ('create unique index concurrently if not exists "Orders Idx" on t (a)', "Orders Idx"),
        ("DROP INDEX CONCURRENTLY IF EXISTS public.orders_a_idx;", "orders_a_idx"),
        ('DROP INDEX CONCURRENTLY "public"."odd.name";', "odd.name"),
        ("ALTER TABLE t ADD COLUMN a int", None),
    ],
)
def test_index_name_of(sql: str, name: str | None) -> None:
    assert index_name_of(sql) == name


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
