"""Generic plans that do not lie on partitioned tables before PostgreSQL 16.

Before 16 the advisor plans a `$n` statement by PREPARE under `plan_cache_mode = force_generic_plan`
and `EXPLAIN EXECUTE` with NULLs. On a partitioned table whose key is compared with a parameter,
the executor prunes at start-up with those NULLs: every partition goes (`Subplans Removed: 3`), the
plan shows no scan at all, and an index that cuts the cost by 98% is never seen being used. The plan
is still generic (the same plan for every value, costs as planned); only start-up pruning looks at
the values. So here the parameters get representative values instead: for each `$n` compared with a
column, the column's most common value (equality) or the smallest / largest value ANALYZE saw
(`>`/`>=` / `<`/`<=`), read locally from pg_stats.

Those values are row data. They go only into the EXPLAIN sent to the monitored database itself;
they are never logged, never put in an error, never in anything that leaves the agent (the repr of
`RepresentativeArguments` hides them, and a failed plan's error is dropped for the NULL path's).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import psycopg
from sqlglot import exp
from sqlglot.errors import SqlglotError

from agent.advise.candidates import conjuncts
from agent.advise.name_resolution import Scope, ViewDefinitions, read_statement
from agent.collect.plans import ExplainOutcome
from agent.db.session import AgentSession, lost_connection
from shared.sql.normalized_text import max_parameter_number, repair_normalized_text
from shared.sql.parsing import UnparseableStatementError, parse_single_statement
from shared.wire.snapshot import TableStats

GENERIC_PLAN_OPTION_VERSION = 160000  # from 16, EXPLAIN (GENERIC_PLAN) does no start-up pruning
Role = Literal["equal", "low", "high"]
_FLIPPED: dict[type[exp.Expr], Role] = {exp.GT: "high", exp.GTE: "high", exp.LT: "low", exp.LTE: "low"}
_DIRECT: dict[type[exp.Expr], Role] = {exp.GT: "low", exp.GTE: "low", exp.LT: "high", exp.LTE: "high"}
# A type name as format_type() writes it: it goes into the cast of pg_stats' anyarray.
_TYPE_NAME = re.compile(r'[A-Za-z0-9_ ."(),\[\]]+')
_statement_names = itertools.count(1)

_VALUES_QUERY = """
SELECT (SELECT v::text FROM unnest(s.most_common_vals::text::{type}[]) v LIMIT 1),
       (SELECT v::text FROM unnest(s.histogram_bounds::text::{type}[]) WITH ORDINALITY h(v, n)
         WHERE n = 1 + array_length(s.histogram_bounds::text::{type}[], 1) / 2),
       (SELECT min(v)::text FROM unnest(coalesce(s.histogram_bounds, s.most_common_vals)::text::{type}[]) v),
       (SELECT max(v)::text FROM unnest(coalesce(s.histogram_bounds, s.most_common_vals)::text::{type}[]) v)
  FROM pg_stats s WHERE s.schemaname = %s AND s.tablename = %s AND s.attname = %s
"""


@dataclass(frozen=True)
class RepresentativeArguments:
    """One value (or None: NULL) per `$n`, in order, with its column's type. Row data: kept out of
    every repr."""

    values: tuple[str | None, ...] = field(repr=False)
    types: tuple[str, ...] = ()  # format_type() of each value's column ("" for a NULL)

    def __repr__(self) -> str:
        return f"RepresentativeArguments(<{len(self.values)} values hidden>)"


def _parameter_number(node: exp.Expr) -> int | None:
    if isinstance(node, exp.Parameter) and isinstance(node.this, exp.Literal) and node.this.is_int:
        return int(node.this.name)
    return None


def _compared(predicate: exp.Expr, scope: Scope) -> list[tuple[int, TableStats, str, Role]]:
    """(parameter number, table, column, role) for `column <op> $n` and its mirror, BETWEEN, IN."""
    pairs: list[tuple[exp.Expr, exp.Expr, Role]] = []
    kind = type(predicate)
    if isinstance(predicate, exp.EQ | exp.GT | exp.GTE | exp.LT | exp.LTE):
        left, right = predicate.this, predicate.expression
        pairs.append((left, right, _DIRECT.get(kind, "equal")))
        pairs.append((right, left, _FLIPPED.get(kind, "equal")))
    elif isinstance(predicate, exp.Between):
        pairs += [
            (predicate.this, predicate.args["low"], "low"),
            (predicate.this, predicate.args["high"], "high"),
        ]
    elif isinstance(predicate, exp.In):
        pairs += [(predicate.this, value, "equal") for value in predicate.expressions]
    found: list[tuple[int, TableStats, str, Role]] = []
    for column, parameter, role in pairs:
        number = _parameter_number(parameter)
        key = scope.key(column) if number is not None and isinstance(column, exp.Column) else None
        if number is not None and key is not None:
            found.append((number, key[0].table, key[1], role))
    return found


def parameter_columns(
    sql_text: str, tables: Sequence[TableStats], views: ViewDefinitions | None = None
) -> dict[int, tuple[TableStats, str, Role]]:
    """Which column each `$n` is compared with (the first comparison wins)."""
    try:
        statement = parse_single_statement(repair_normalized_text(sql_text))
        reading = read_statement(statement, tables, views)
    except (UnparseableStatementError, SqlglotError, RecursionError):
        return {}
    mapped: dict[int, tuple[TableStats, str, Role]] = {}
    for condition, scope in reading.conditions:
        for predicate in conjuncts(condition):
            for number, table, column, role in _compared(predicate, scope):
                mapped.setdefault(number, (table, column, role))
    return mapped


def _column_type(table: TableStats, column: str) -> str:
    """The column's type as format_type() wrote it, if it is safe to put in a cast ("" if not)."""
    type_name = next((c.type for c in table.columns if c.name == column), "")
    return type_name if _TYPE_NAME.fullmatch(type_name) else ""


class RepresentativeValues:
    """pg_stats values per column, read once per advise run (one query per column)."""

    def __init__(self, session: AgentSession) -> None:
        self._session = session
        self._by_column: dict[tuple[str, str, str], dict[Role, str | None]] = {}

    def arguments(
        self, sql_text: str, tables: Sequence[TableStats], views: ViewDefinitions | None = None
    ) -> RepresentativeArguments | None:
        mapped = parameter_columns(sql_text, tables, views)
        if not mapped:
            return None
        values: list[str | None] = []
        types: list[str] = []
        for number in range(1, max_parameter_number(repair_normalized_text(sql_text)) + 1):
            found = mapped.get(number)
            value = None if found is None else self._values(found[0], found[1]).get(found[2])
            values.append(value)
            types.append("" if found is None or value is None else _column_type(found[0], found[1]))
        if all(value is None for value in values):
            return None
        return RepresentativeArguments(tuple(values), tuple(types))

    def _values(self, table: TableStats, column: str) -> dict[Role, str | None]:
        key = (table.schema_name, table.name, column)
        if key not in self._by_column:
            self._by_column[key] = self._read(table, column)
        return self._by_column[key]

    def _read(self, table: TableStats, column: str) -> dict[Role, str | None]:
        type_name = _column_type(table, column)
        if not type_name:
            return {}
        query = _VALUES_QUERY.replace("{type}", type_name)
        try:
            with self._session.rolled_back():
                rows = self._session.fetch_all(query, [table.schema_name, table.name, column])
        except psycopg.Error as error:
            if lost_connection(self._session.connection, error):
                raise
            return {}  # a type without ordering, no statistics: NULLs as before (error text dropped)
        if not rows:
            return {}
        common, middle, low, high = (None if v is None else str(v) for v in rows[0])
        return {"equal": common if common is not None else middle, "low": low, "high": high}


def representative_plan(
    session: AgentSession, normalized_text: str, arguments: RepresentativeArguments
) -> ExplainOutcome:
    """The generic plan, executed-for-EXPLAIN with representative values; on any error a plan-less
    outcome without the error's text (it may quote a value), for the caller to use the NULL path."""
    text = repair_normalized_text(normalized_text).strip().rstrip(";")
    name = f"optischema_representative_{next(_statement_names)}"
    connection = session.connection
    # Never written into statement text: pg_stat_statements keeps a utility statement's text as
    # sent (EXPLAIN EXECUTE included), and a utility statement takes no bound parameters. So each
    # value is bound into a transaction-local setting (`SELECT set_config($1, $2, true)`, which
    # pg_stat_statements keeps normalized) and EXECUTE reads it back, cast to its column's type.
    settings = [
        (f"optischema.representative_{number}", value, type_name)
        for number, (value, type_name) in enumerate(zip(arguments.values, arguments.types, strict=True), 1)
    ]
    expressions = ", ".join(
        f"current_setting('{setting}')::{type_name}" if value is not None else "NULL"
        for setting, value, type_name in settings
    )
    prepared = False
    try:
        with session.rolled_back():
            session.execute_text("SET LOCAL transaction_read_only = on")
            session.execute_text("SET LOCAL plan_cache_mode = force_generic_plan")
            for setting, value, _ in settings:
                if value is not None:
                    session.fetch_all("SELECT set_config(%s, %s, true)", [setting, value])
            session.execute_text(f"PREPARE {name} AS {text}")
            prepared = True
            rows = session.execute_text(f"EXPLAIN (FORMAT JSON) EXECUTE {name}({expressions})")
            plan: Any = rows[0][0]
            parsed = json.loads(plan) if isinstance(plan, str) else plan
            outcome = ExplainOutcome(plan=parsed)
    except psycopg.Error as error:
        if lost_connection(connection, error):
            raise
        outcome = ExplainOutcome(plan=None, error="representative values did not plan")
    if prepared:
        session.execute_text(f"DEALLOCATE {name}")  # PREPARE survives the rollback
    return outcome
