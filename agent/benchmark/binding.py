"""The values each parameter of a prepared statement cycles through, put together by its role.

- A column compared on both sides (`d >= $1 AND d < $2`, `BETWEEN $1 AND $2`): the two bounds come
  from the column's values sorted by the server (most common values and histogram bounds, cast to the
  column's type), lower below upper, spanning RANGE_WIDTHS of them in turn: 5 %, 15 % and 30 %, from
  a narrow to a wide range, starting at points spread over the column. Before, both bounds got the
  same value (an empty range): on TPC-H at SF 1 a year of `l_shipdate` (Q6) was timed as an empty
  range, 294 ms without the index and 0.04 ms with it, and the index was kept as a 100 % gain.
- Several parameters on one column (an IN list): each starts at another sampled value, so that
  `IN ($1, $2, $3)` is three values, not one thrice.
- A LIKE pattern: `%word%` around a word of a sampled value. The exact value matched one row of
  TPC-H's `part` (a nested loop's dream) where the application's `%green%` matches 5 % of them.
- A constant outside every condition: a neutral value of the type the server inferred.
- A window back from now (`created_at > now() - $2::interval`): the value of the column where the
  window starts, sampled as a bound on the column is (a window on both ends is a range), and turned
  into the distance from now by the server when the statement runs (window_argument). A lone window
  keeps the newest WINDOW_SHARES of the column's values (a lower bound: "the last day") or the
  oldest (an upper bound: "older than 30 days"). Without it the statement was not timed at all; the
  demo shop's `status = $1 AND created_at > now() - interval '1 day'` was left "not measured".

Nothing here logs a value; they are bound on the sandbox and forgotten (parameters.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from psycopg import sql
from sqlglot import exp, parse_one
from sqlglot.errors import ParseError

from agent.benchmark.parameters import (
    AggregateRef,
    ColumnRef,
    FixedValue,
    NeutralValue,
    ParameterSource,
    UnsampleableStatement,
    WindowRef,
)
from agent.benchmark.runs import ArgumentOf
from agent.db.session import AgentSession
from shared.sql.index_ddl import qualified_name, render_key

RANGE_WIDTHS = (0.05, 0.15, 0.30)
# The share of a column's values a window back from now keeps, in turn: its newest (or oldest) tenth,
# a fiftieth, and a third.
WINDOW_SHARES = (0.10, 0.02, 0.33)
_GOLDEN = 0.6180339887  # successive starting points spread evenly over the column
_NUMERIC = {"smallint", "integer", "bigint", "numeric", "real", "double precision"}
_TEXT = {"text", "character varying", "character", "bpchar", "varchar", "name"}


def neutral_value(type_name: str) -> str | None:
    if type_name in _NUMERIC or type_name.startswith("numeric"):
        return "1"
    if type_name in _TEXT or type_name.startswith(("character", "varchar")):
        return "x"
    if type_name == "boolean":
        return "true"
    return None


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
    for value in [*common, *spread(bounds, limit)]:
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


def spread(values: list[str], count: int) -> list[str]:
    """`count` values evenly spread over a sorted list (histogram bounds are sorted)."""
    if len(values) <= count:
        return values
    step = (len(values) - 1) / max(1, count - 1)
    return [values[round(i * step)] for i in range(count)]


def column_type(session: AgentSession, column: ColumnRef) -> sql.SQL | None:
    """The column's type as the catalog writes it (`timestamp with time zone`): a valid type name."""
    row = session.fetch_one(
        "SELECT pg_catalog.format_type(atttypid, atttypmod) FROM pg_catalog.pg_attribute"
        " WHERE attrelid = %s::regclass AND attname = %s AND NOT attisdropped",
        [qualified_name(column.schema, column.table), column.column],
    )
    return None if row is None else sql.SQL(str(row[0]))


def sorted_values(session: AgentSession, column: ColumnRef, limit: int) -> list[str]:
    """The column's most common values and histogram bounds, deduplicated and sorted by the server in
    the column's own type (as text, 10 sorts before 9); else up to `limit` distinct values of 1000 rows."""
    type_name = column_type(session, column)
    if type_name is None:
        return []
    stats = sql.SQL(
        "SELECT pg_catalog.unnest({field}::text::{type}[]) AS v FROM pg_catalog.pg_stats"
        " WHERE schemaname = %s AND tablename = %s AND attname = %s AND NOT inherited"
    )
    key = [column.schema, column.table, column.column]
    query = sql.SQL("SELECT v::text FROM ({common} UNION {bounds}) s ORDER BY s.v").format(
        common=stats.format(field=sql.SQL("most_common_vals"), type=type_name),
        bounds=stats.format(field=sql.SQL("histogram_bounds"), type=type_name),
    )
    values = [str(r[0]) for r in session.fetch_all(query, key + key)]
    if values:
        return values
    fallback = sql.SQL(
        "SELECT v::text FROM (SELECT {column} AS v FROM {table} WHERE {column} IS NOT NULL LIMIT 1000) s"
        " GROUP BY s.v ORDER BY s.v LIMIT %s"
    ).format(column=sql.Identifier(column.column), table=sql.Identifier(column.schema, column.table))
    return [str(r[0]) for r in session.fetch_all(fallback, [limit])]


# An expression's values are read from about this many rows spread over its table (TABLESAMPLE SYSTEM).
EXPRESSION_SAMPLE_ROWS = 10_000
EXPRESSION_VALUES = 1_000


def bound_expression(column: ColumnRef, values: Mapping[int, tuple[str, ...]], types: Sequence[str]) -> str:
    """The compared expression with the parameters inside it replaced by the value each is bound to,
    cast to the type the server gave it: `SUBSTRING(c_phone FROM CAST('1' AS INT) FOR ...)` (neutral
    values, never sampled ones; uncast, '1' would pick the regular-expression substring)."""
    expression = parse_one(column.column, read="postgres")
    for parameter in list(expression.find_all(exp.Parameter)):
        number = int(str(parameter.this.this)) if isinstance(parameter.this, exp.Literal) else 0
        if number not in values or number > len(types):
            raise UnsampleableStatement(f"${number} inside a compared expression has no value")
        literal = exp.Literal.string(values[number][0])
        try:
            parameter.replace(exp.cast(literal, exp.DataType.build(types[number - 1], dialect="postgres")))
        except (ParseError, ValueError):
            parameter.replace(literal)
    return expression.sql(dialect="postgres")


def _sampled_values(
    session: AgentSession, schema: str, table: str, query: Callable[[sql.Composable], sql.Composed]
) -> list[str]:
    """Values (text) of `query(sample)`, where `sample` follows the table: TABLESAMPLE SYSTEM, about
    EXPRESSION_SAMPLE_ROWS rows spread over it, or nothing (the whole table) when that found none."""
    row = session.fetch_one(
        "SELECT reltuples FROM pg_catalog.pg_class WHERE oid = %s::regclass", [qualified_name(schema, table)]
    )
    rows = float(row[0]) if row and row[0] else 0.0
    percent = 100.0 if rows <= EXPRESSION_SAMPLE_ROWS else 100.0 * EXPRESSION_SAMPLE_ROWS / rows
    for sample, arguments in ((sql.SQL("TABLESAMPLE SYSTEM (%s)"), [percent]), (sql.SQL(""), [])):
        values = [str(r[0]) for r in session.fetch_all(query(sample), arguments)]
        if values:
            return values
    return []


def expression_values(session: AgentSession, column: ColumnRef, expression: str) -> list[str]:
    """Distinct values of an expression over the table's rows, sorted by the server in the
    expression's own type. Statistics exist for columns, not for expressions no index has."""
    query = sql.SQL(
        "SELECT v::text FROM (SELECT DISTINCT ({expression}) AS v FROM {table} {sample}) s"
        " WHERE v IS NOT NULL ORDER BY s.v LIMIT {limit}"
    )
    parts = {
        "expression": sql.SQL(expression),
        "table": sql.Identifier(column.schema, column.table),
        "limit": sql.Literal(EXPRESSION_VALUES),
    }
    return _sampled_values(
        session, column.schema, column.table, lambda sample: query.format(sample=sample, **parts)
    )


def aggregate_values(session: AgentSession, aggregate: AggregateRef) -> list[str]:
    """The aggregate's value in each of a sample of the groups (whole groups: the sample picks the
    groups, every row of a picked group counts), sorted by the server in the aggregate's type."""
    keys = sql.SQL(", ").join(sql.SQL(render_key(key)) for key in aggregate.groups)
    query = sql.SQL(
        "SELECT v::text FROM (SELECT {aggregate} AS v FROM {table} WHERE ({keys}) IN"
        " (SELECT {keys} FROM {table} {sample}) GROUP BY {keys}) s WHERE v IS NOT NULL ORDER BY s.v"
    )
    parts = {
        "aggregate": sql.SQL(aggregate.aggregate),
        "table": sql.Identifier(aggregate.schema, aggregate.table),
        "keys": keys,
    }
    return _sampled_values(
        session, aggregate.schema, aggregate.table, lambda sample: query.format(sample=sample, **parts)
    )


def having_values(ordered: Sequence[str], role: str, count: int) -> list[str]:
    """Values for a HAVING threshold: a lone lower bound from the top tenth of the groups' values,
    a lone upper bound from the bottom tenth, anything else from all of them. A HAVING condition is
    there to keep few groups: TPC-H Q18's `sum(l_quantity) > 300` keeps 57 of 1.5 million orders,
    where the median (~100) would keep most and time another query altogether."""
    tenth = max(1, len(ordered) // 10)
    pool = ordered[-tenth:] if role == "lower" else ordered[:tenth] if role == "upper" else ordered
    return spread(list(pool), count)


def range_bounds(values: Sequence[str], count: int) -> list[tuple[str, str]]:
    """`count` (lower, upper) pairs over sorted values, their widths cycling through RANGE_WIDTHS."""
    last = len(values) - 1
    if last < 1:
        return [(values[0], values[0])] * count if values else []
    pairs = []
    for run in range(count):
        width = min(last, max(1, round(RANGE_WIDTHS[run % len(RANGE_WIDTHS)] * last)))
        start = round(((run * _GOLDEN) % 1.0) * (last - width))
        pairs.append((values[start], values[start + width]))
    return pairs


# How a window's argument is computed when the statement runs, from the sampled point (the column's
# value the window starts at, `{value}`): in the run's own transaction, so that its now() or
# current_date is the one the statement reads (computed beforehand, each window would shrink by the
# time the index build and the runs before it took).
_DISTANCES = {
    "interval": "CAST({anchor} AS timestamptz) - CAST(CAST({value} AS {type}) AS timestamptz)",
    "integer": "CAST({anchor} AS date) - CAST(CAST({value} AS {type}) AS date)",
}


def window_argument(session: AgentSession, window: WindowRef, parameter_type: str) -> ArgumentOf:
    """The EXECUTE argument of a window parameter: the distance from its clock back to its value."""
    distance = _DISTANCES.get(parameter_type)
    type_name = column_type(session, window.column)
    if distance is None or type_name is None:
        raise UnsampleableStatement(f"a window of type {parameter_type} back from {window.anchor}")
    template, anchor = sql.SQL(distance), sql.SQL(window.anchor)  # anchor: clock nodes only (parameters.py)
    return lambda value: template.format(anchor=anchor, type=type_name, value=value)


def window_points(ordered: Sequence[str], role: str, count: int) -> list[str]:
    """`count` values of a column (sorted) where a lone window starts: windows that keep its newest
    WINDOW_SHARES (a lower bound, `created_at > now() - $1`) or its oldest (an upper bound)."""
    last = len(ordered) - 1
    if last < 2:
        return []
    points = []
    for run in range(count):
        kept = max(1, round(WINDOW_SHARES[run % len(WINDOW_SHARES)] * last))
        points.append(ordered[kept] if role == "upper" else ordered[last - kept])
    return points


def like_pattern(value: str) -> str:
    words = value.split()
    word = words[len(words) // 2] if words else value
    return f"%{word}%"


def _bind_column(
    session: AgentSession,
    parameters: list[tuple[int, ColumnRef]],
    all_windows: bool,
    values: dict[int, tuple[str, ...]],
    types: Sequence[str],
    count: int,
) -> None:
    """Values for the parameters compared with one column (or expression): a range's bounds, a lone
    window's starting points, or samples rotated per parameter; into `values`."""
    column = parameters[0][1]
    roles = {source.role for _, source in parameters}
    expression = (
        expression_values(session, column, bound_expression(column, values, types))
        if column.is_expression
        else None
    )
    if {"lower", "upper"} <= roles:
        ordered = sorted_values(session, column, count) if expression is None else expression
        pairs = range_bounds(ordered, count)
        if not pairs:
            raise UnsampleableStatement(f"{column.table}.{column.column} has no values")
        for number, source in parameters:
            side = 0 if source.role == "lower" else 1
            values[number] = tuple(pair[side] for pair in pairs)
        return
    if all_windows and len(roles) == 1:
        pool = window_points(sorted_values(session, column, count), column.role, count)
        if not pool:
            raise UnsampleableStatement(f"{column.table}.{column.column} has too few values for a window")
        for number, _ in parameters:
            values[number] = tuple(pool)
        return
    sampled = sample_values(session, column, count) if expression is None else spread(expression, count)
    if not sampled:
        raise UnsampleableStatement(f"{column.table}.{column.column} has no values")
    for rank, (number, source) in enumerate(parameters):
        rotated = sampled[rank % len(sampled) :] + sampled[: rank % len(sampled)]
        if source.role == "like":
            values[number] = tuple(like_pattern(v) for v in rotated)
        elif source.role == "array":
            values[number] = tuple(array_literal(rotated, start) for start in range(len(rotated)))
        else:
            values[number] = tuple(rotated)


# An array parameter (`= ANY($1)`) holds this many sampled values per run: a short IN list's worth.
ARRAY_VALUES = 5


def array_literal(values: Sequence[str], start: int) -> str:
    """ARRAY_VALUES of `values` from `start` on (wrapping), as the text of a PostgreSQL array whose
    elements are quoted, which every element type reads (`{"7","12"}` is an int[] too)."""
    chosen = [values[(start + n) % len(values)] for n in range(min(ARRAY_VALUES, len(values)))]
    quoted = ('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"' for value in chosen)
    return "{" + ",".join(quoted) + "}"


def bind_values(
    session: AgentSession,
    sources: Mapping[int, ParameterSource],
    types: Sequence[str],
    count: int,
) -> tuple[tuple[str, ...], ...]:
    """Per parameter ($1 first), the values its runs cycle through; raises UnsampleableStatement."""
    values: dict[int, tuple[str, ...]] = {}
    columns: dict[tuple[str, str, str], list[tuple[int, ColumnRef]]] = {}
    aggregates: dict[AggregateRef, list[tuple[int, AggregateRef]]] = {}
    windows: set[int] = set()
    # Neutral and fixed values first: a compared expression's own parameters take theirs.
    for number in range(1, len(types) + 1):
        source = sources.get(number)
        if isinstance(source, FixedValue):
            values[number] = (source.value,)
        elif isinstance(source, NeutralValue):
            neutral = neutral_value(types[number - 1])
            if neutral is None:
                raise UnsampleableStatement(f"${number} is a constant of type {types[number - 1]}")
            values[number] = (neutral,)
        elif isinstance(source, ColumnRef):
            columns.setdefault(source.column_key(), []).append((number, source))
        elif isinstance(source, AggregateRef):
            aggregates.setdefault(replace(source, role="value"), []).append((number, source))
        elif isinstance(source, WindowRef):  # sampled as its column is; bound as a distance (runs.py)
            columns.setdefault(source.column.column_key(), []).append((number, source.column))
            windows.add(number)
        else:
            raise UnsampleableStatement(f"${number} is not used")
    for parameters in columns.values():
        _bind_column(session, parameters, {n for n, _ in parameters} <= windows, values, types, count)
    for compared in aggregates.values():
        # One read of the groups' values per aggregate, whatever the roles of its parameters (`count(*)
        # >= $1 AND count(*) <= $2` is one scan); each role's parameters rotate through its own pool.
        aggregate = compared[0][1]
        ordered = aggregate_values(session, aggregate)
        if not ordered:
            raise UnsampleableStatement(f"{aggregate.table}: {aggregate.aggregate} has no values")
        pools = {
            role: having_values(ordered, role, count) for role in {source.role for _, source in compared}
        }
        ranks: dict[str, int] = {}
        for number, source in compared:
            pool, rank = pools[source.role], ranks.get(source.role, 0)
            ranks[source.role] = rank + 1
            values[number] = tuple(pool[rank % len(pool) :] + pool[: rank % len(pool)])
    return tuple(values[number] for number in range(1, len(types) + 1))
