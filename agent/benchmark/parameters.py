"""Which column each `$n` of a workload statement is compared with, and values to bind to it.

pg_stat_statements keeps `WHERE device_id = $1`, never the value. To time the statement for real the
benchmark needs values like the application's: for each parameter, the column it is compared with
(read with the advisor's own name resolution), then that column's most common values and histogram
bounds from the sandbox's pg_stats, or values read from the sandbox's table when it has no
statistics. Values never leave this process: they are bound on the sandbox and forgotten; nothing
here logs or returns them anywhere but to the timing loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from psycopg import sql
from sqlglot import exp

from agent.advise.name_resolution import Scope, identifier_name, read_statement
from agent.benchmark.settings import BenchmarkSettings
from agent.db.session import AgentSession
from shared.sql.normalized_text import repair_normalized_text
from shared.sql.parsing import UnparseableStatementError, parse_single_statement
from shared.wire.snapshot import TableStats

_COMPARISONS = (exp.EQ, exp.NEQ, exp.LT, exp.LTE, exp.GT, exp.GTE, exp.Like, exp.ILike)


@dataclass(frozen=True)
class ColumnRef:
    schema: str
    table: str
    column: str


@dataclass(frozen=True)
class FixedValue:
    """A parameter that is not compared with a column (LIMIT, OFFSET): a setting, not a sample."""

    value: str


ParameterSource = ColumnRef | FixedValue


class UnsampleableStatement(Exception):
    """The statement's parameters cannot all be tied to a column; the message says why (no values)."""


def _parameter_number(node: exp.Expr | None) -> int | None:
    while isinstance(node, exp.Paren | exp.Cast):
        node = node.this
    if isinstance(node, exp.Parameter) and isinstance(node.this, exp.Literal):
        return int(str(node.this.this))
    return None


def _column_of(node: exp.Expr, scope: Scope) -> ColumnRef | None:
    key = scope.key(node)
    if key is None or not isinstance(node, exp.Column | exp.Paren):
        return None
    occurrence, column = key
    return ColumnRef(occurrence.table.schema_name, occurrence.table.name, column)


def _compared(node: exp.Expr, scope: Scope) -> list[tuple[int, ColumnRef]]:
    """(parameter, column) pairs one predicate node ties together, in either order of its sides."""
    pairs: list[tuple[int, ColumnRef]] = []
    if isinstance(node, _COMPARISONS):
        for side, other in ((node.this, node.expression), (node.expression, node.this)):
            number, column = _parameter_number(other), _column_of(side, scope)
            if number is not None and column is not None:
                pairs.append((number, column))
    elif isinstance(node, exp.In | exp.Between):
        column = _column_of(node.this, scope)
        others = (
            node.expressions if isinstance(node, exp.In) else [node.args.get("low"), node.args.get("high")]
        )
        for other in others:
            number = _parameter_number(other)
            if column is not None and number is not None:
                pairs.append((number, column))
    return pairs


def _target_table(statement: exp.Update, tables: Sequence[TableStats]) -> TableStats | None:
    target = statement.this
    if not isinstance(target, exp.Table):
        return None
    name = identifier_name(target.this)
    schema = identifier_name(target.args.get("db"))
    matches = [t for t in tables if t.name == name and (not schema or t.schema_name == schema)]
    return matches[0] if len(matches) == 1 else None


def parameter_sources(
    raw_text: str, tables: Sequence[TableStats], settings: BenchmarkSettings
) -> dict[int, ParameterSource]:
    """Every `$n` of the statement mapped to its column or fixed value; raises UnsampleableStatement."""
    try:
        statement = parse_single_statement(repair_normalized_text(raw_text))
    except UnparseableStatementError as error:
        raise UnsampleableStatement(f"its text cannot be parsed ({error})") from None
    numbers = {n for node in statement.find_all(exp.Parameter) if (n := _parameter_number(node))}
    sources: dict[int, ParameterSource] = {}
    for condition, scope in read_statement(statement, tables).conditions:
        for node in condition.walk():
            for compared_number, compared_column in _compared(node, scope):
                sources.setdefault(compared_number, compared_column)
    if isinstance(statement, exp.Update):
        table = _target_table(statement, tables)
        for assignment in statement.expressions:
            assigned = _parameter_number(assignment.expression) if isinstance(assignment, exp.EQ) else None
            target = assignment.this if isinstance(assignment, exp.EQ) else None
            name = identifier_name(target.this) if isinstance(target, exp.Column) else ""
            if table is not None and assigned is not None and name:
                sources.setdefault(assigned, ColumnRef(table.schema_name, table.name, name))
    for clause, value in ((exp.Limit, settings.limit_value), (exp.Offset, settings.offset_value)):
        for node in statement.find_all(clause):
            fixed = _parameter_number(node.args.get("expression"))
            if fixed is not None:
                sources.setdefault(fixed, FixedValue(str(value)))
    missing = sorted(numbers - set(sources))
    if missing:
        listed = ", ".join(f"${n}" for n in missing)
        raise UnsampleableStatement(f"parameter(s) {listed} are not compared with a column of a known table")
    return sources


def sample_values(session: AgentSession, column: ColumnRef, limit: int) -> list[str]:
    """Up to `limit` values of the column as text: most common values first, then histogram bounds
    (spread over the range), from the sandbox's pg_stats; else values read from the table itself."""
    row = session.fetch_one(
        """
        SELECT most_common_vals::text::text[], histogram_bounds::text::text[]
          FROM pg_catalog.pg_stats
         WHERE schemaname = %s AND tablename = %s AND attname = %s AND NOT inherited
        """,
        [column.schema, column.table, column.column],
    )
    common, bounds = (list(row[0] or []), list(row[1] or [])) if row else ([], [])
    values: list[str] = []
    for value in [*common, *_spread(bounds, limit)]:
        if value not in values:
            values.append(value)
    if not values:
        query = sql.SQL("SELECT DISTINCT {column}::text FROM {table} WHERE {column} IS NOT NULL LIMIT %s")
        rows = session.fetch_all(
            query.format(
                column=sql.Identifier(column.column), table=sql.Identifier(column.schema, column.table)
            ),
            [limit],
        )
        values = [str(r[0]) for r in rows]
    return values[:limit]


def _spread(values: list[str], count: int) -> list[str]:
    """`count` values evenly spread over a sorted list (histogram bounds are sorted)."""
    if len(values) <= count:
        return values
    step = (len(values) - 1) / max(1, count - 1)
    return [values[round(i * step)] for i in range(count)]
