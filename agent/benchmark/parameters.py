"""Which column, expression or aggregate each `$n` of a workload statement is compared with; the
values are sampled in binding.py.

pg_stat_statements keeps `WHERE device_id = $1`, never the value. To time the statement for real the
benchmark needs values like the application's: for each parameter, the column it is compared with
(read with the advisor's own name resolution), then that column's most common values and histogram
bounds from the sandbox's pg_stats, or values read from the sandbox's table when it has no
statistics. Values never leave this process: they are bound on the sandbox and forgotten; nothing
here logs or returns them anywhere but to the timing loop.

How the values are put together matters as much as where they come from (binding.py). On TPC-H at
SF 1, `l_shipdate >= $1 AND l_shipdate < $2` got the same sampled date for both ends: an empty range,
timed at 0.04 ms against 294 ms without the index, a "100 % gain" that the real query (a year of
rows) never sees. So each parameter also carries its role: a lower or an upper bound, one of several
values of an IN list, a LIKE pattern, or a constant outside every condition (`1 - l_discount` in a
select list, the field of `extract`), which changes no row count and takes a neutral value of its type.
A window back from now (`created_at > now() - interval '1 day'`, normalized `now() - $2::interval`)
is a bound on the column too: it is sampled where the window starts on the column, and that point is
turned into the distance from now when the statement runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal, cast

from sqlglot import exp

from agent.advise.name_resolution import HavingClause, Scope, identifier_name, read_statement
from agent.benchmark.settings import BenchmarkSettings
from shared.sql.index_ddl import is_expression_key, quote_identifier
from shared.sql.normalized_text import repair_normalized_text
from shared.sql.parsing import UnparseableStatementError, parse_single_statement
from shared.wire.snapshot import TableStats

_COMPARISONS = (exp.EQ, exp.NEQ, exp.LT, exp.LTE, exp.GT, exp.GTE, exp.Like, exp.ILike)


# "array": the parameter is an array the column is compared with, `device_id = ANY($1)` (how ORMs
# send an IN list as one parameter), bound to an array of sampled values.
Role = Literal["value", "lower", "upper", "like", "array"]
# The value a field parameter (`extract($1 FROM d)`, `date_trunc($1, d)`) takes: any field will do.
FIELD = "year"
# Functions that read the clock, as sqlglot leaves them (now() and CURRENT_TIMESTAMP have nodes).
_CLOCK_FUNCTIONS = frozenset({"statement_timestamp", "transaction_timestamp", "clock_timestamp"})


@dataclass(frozen=True)
class ColumnRef:
    """What a parameter is compared with: a column, or an expression over one table's columns
    (`lower(email)`, `substring(c_phone FROM $1 FOR $2)`, written as an index key is; the parameters
    inside it take neutral values), whose values are sampled by evaluating it (binding.py)."""

    schema: str
    table: str
    column: str
    role: Role = "value"  # how the parameter is compared with the column

    @property
    def is_expression(self) -> bool:
        return is_expression_key(self.column)

    def column_key(self) -> tuple[str, str, str]:
        return (self.schema, self.table, self.column)


@dataclass(frozen=True)
class FixedValue:
    """A parameter that is not compared with a column (LIMIT, OFFSET): a setting, not a sample."""

    value: str


@dataclass(frozen=True)
class NeutralValue:
    """A parameter outside every condition (WHERE, JOIN ... ON, HAVING, GROUP BY, ORDER BY, LIMIT): a
    constant in the select list or an assignment's arithmetic. It changes no row count and so no plan;
    any value of its type does (binding.neutral_value), once the server has told the type. `numeric`:
    an operand of arithmetic or a CASE result, declared so when the server cannot infer it."""

    numeric: bool = False
    # A type to declare when preparing: `substring(x FROM $1 FOR $2)` is read as substring(text FROM
    # text FOR text), the regular-expression form, unless its positions are declared integers.
    declared: str | None = None


@dataclass(frozen=True)
class AggregateRef:
    """An aggregate a HAVING condition compares with a parameter (TPC-H Q18's `sum(l_quantity) >
    $1`), over the groups of one table: sampled by computing it for a sample of the groups (binding.py)."""

    schema: str
    table: str
    aggregate: str  # `sum(l_quantity)`, its columns unqualified
    groups: tuple[str, ...]  # the GROUP BY keys, written as index keys are
    role: Role = "value"


@dataclass(frozen=True)
class WindowRef:
    """A parameter that says how far back from now a column is read: `created_at > now() - $2::interval`
    ("the last day"), `d >= current_date - $1` (integer days), `created_at < now() - $1::interval`
    ("older than"). Its values are points sampled on the column where the window starts
    (binding.window_points, or a range's bounds); each run turns its point into the distance from
    `anchor` (the clock expression, as SQL), in the parameter's own type (binding.window_argument).
    `column.role` says which end of the column the window keeps."""

    column: ColumnRef
    anchor: str
    # A type to declare when preparing: the normalized `current_date - $1` lost its integer literal,
    # and the server reads `date - unknown` as date - date. None where the text casts the parameter.
    declared: str | None = None


ParameterSource = ColumnRef | AggregateRef | WindowRef | FixedValue | NeutralValue


def _is_field(node: exp.Expr) -> bool:
    """`extract($1 FROM d)`, `date_trunc($1, d)`: the parameter names a field ('year'), never a value."""
    parent = node.parent
    if isinstance(parent, exp.Extract):
        return parent.args.get("this") is node
    return isinstance(parent, exp.DateTrunc | exp.TimestampTrunc) and parent.args.get("unit") is node


_CONDITION_CLAUSES = (exp.Where, exp.Having, exp.Join, exp.Group, exp.Order, exp.Limit, exp.Offset)


class UnsampleableStatement(Exception):
    """The statement's parameters cannot all be tied to a column; the message says why (no values)."""


def _parameter_number(node: exp.Expr | None) -> int | None:
    while isinstance(node, exp.Paren | exp.Cast):
        node = node.this
    if isinstance(node, exp.Parameter) and isinstance(node.this, exp.Literal):
        return int(str(node.this.this))
    return None


def _column_of(node: exp.Expr, scope: Scope) -> ColumnRef | None:
    key = scope.key(node, parameters=True)
    if key is None:
        return None
    occurrence, column = key
    return ColumnRef(occurrence.table.schema_name, occurrence.table.name, column)


def _inner(compared: exp.Expr) -> list[tuple[int, ParameterSource]]:
    """The parameters inside a compared expression (`substring(c_phone FROM $1 FOR $2)`): a neutral
    value each, the same when its values are sampled and when the statement runs."""
    pairs: list[tuple[int, ParameterSource]] = []
    for parameter in compared.find_all(exp.Parameter):
        number, node = _parameter_number(parameter), cast(exp.Expr, parameter)
        while isinstance(node.parent, exp.Paren | exp.Cast):
            node = node.parent
        position = isinstance(node.parent, exp.Substring) and node.arg_key in ("start", "length")
        if number is not None:
            source = (
                FixedValue(FIELD)
                if _is_field(node)
                else NeutralValue(declared="integer" if position else None)
            )
            pairs.append((number, source))
    return pairs


def _role(node: exp.Expr, column_first: bool) -> Role:
    """`column >= $n` is a lower bound, `$n >= column` an upper one; LIKE a pattern; else a value."""
    if isinstance(node, exp.Like | exp.ILike):
        return "like"
    if isinstance(node, exp.GT | exp.GTE):
        return "lower" if column_first else "upper"
    if isinstance(node, exp.LT | exp.LTE):
        return "upper" if column_first else "lower"
    return "value"


def _offset(node: exp.Expr | None) -> tuple[int, list[int]] | None:
    """`$8 + $9` (TPC-H Q19's `l_quantity <= $8 + $9`): the first parameter stands for the column's
    value, the others for an offset to it, which gets a neutral value; a bare `$n` is `(n, [])`."""
    number = _parameter_number(node)
    if number is not None:
        return number, []
    if isinstance(node, exp.Add | exp.Sub):
        first, offset = _parameter_number(node.this), _parameter_number(node.expression)
        literal = isinstance(node.expression, exp.Literal)
        if first is not None and (offset is not None or literal):
            return first, [] if offset is None else [offset]
    return None


def _clock(node: exp.Expr) -> str | None:
    """The SQL of an expression that reads the clock and nothing else (`now()`, `current_date`,
    `date_trunc('day', now())`, its field parameter as FIELD, as it is bound); None otherwise."""
    if isinstance(node, exp.CurrentTimestamp | exp.CurrentDate | exp.Localtimestamp):
        return node.sql(dialect="postgres")
    if isinstance(node, exp.Anonymous) and node.name.lower() in _CLOCK_FUNCTIONS and not node.expressions:
        return node.sql(dialect="postgres")
    if isinstance(node, exp.TimestampTrunc | exp.DateTrunc) and _clock(node.this) is not None:
        truncated = node.copy()
        unit = truncated.args.get("unit")
        if _parameter_number(unit) is not None and isinstance(unit, exp.Expr):
            unit.replace(exp.Literal.string(FIELD))
        elif not isinstance(unit, exp.Literal | exp.Var):
            return None
        return truncated.sql(dialect="postgres")
    return None


def _window(node: exp.Expr | None, column: ColumnRef) -> tuple[int, WindowRef] | None:
    """`now() - $2::interval`, `current_date - $1`: the parameter and the clock it counts back from."""
    if not isinstance(node, exp.Sub):
        return None
    number, anchor = _parameter_number(node.expression), _clock(node.this)
    if number is None or anchor is None:
        return None
    inner = node.expression
    while isinstance(inner, exp.Paren):
        inner = inner.this
    bare = isinstance(inner, exp.Parameter)  # `- ($1)` too; `- $1::interval` has its type
    declared = ("integer" if isinstance(node.this, exp.CurrentDate) else "interval") if bare else None
    return number, WindowRef(column, anchor, declared)


def _row_compared(
    node: exp.Expr, columns: exp.Tuple, parameters: exp.Tuple, scope: Scope, column_first: bool
) -> list[tuple[int, ParameterSource]]:
    """`(created_at, id) < ($1, $2)`, keyset pagination: each parameter is a bound on the column in
    its position, with the comparison's role."""
    pairs: list[tuple[int, ParameterSource]] = []
    if len(columns.expressions) != len(parameters.expressions):
        return pairs
    for side, other in zip(columns.expressions, parameters.expressions, strict=True):
        column, number = _column_of(side, scope), _parameter_number(other)
        if column is not None and number is not None:
            pairs.append((number, replace(column, role=_role(node, column_first))))
    return pairs


def _array_parameter(node: exp.Expr | None) -> int | None:
    """`ANY($1)`, `ALL($1::text[])` (which sqlglot leaves as a call): the array's parameter."""
    if isinstance(node, exp.Any | exp.All):
        return _parameter_number(node.this)
    if isinstance(node, exp.Anonymous) and node.name.upper() in ("ANY", "ALL") and len(node.expressions) == 1:
        return _parameter_number(node.expressions[0])
    return None


def _compared(node: exp.Expr, scope: Scope) -> list[tuple[int, ParameterSource]]:
    """(parameter, source) pairs one predicate node ties together, in either order of its sides."""
    pairs: list[tuple[int, ParameterSource]] = []
    if isinstance(node, _COMPARISONS):
        for side, other, column_first in (
            (node.this, node.expression, True),
            (node.expression, node.this, False),
        ):
            if isinstance(side, exp.Tuple) and isinstance(other, exp.Tuple):
                pairs += _row_compared(node, side, other, scope, column_first)
                continue
            anchored, column = _offset(other), _column_of(side, scope)
            window = None
            if column is not None and not column.is_expression:
                window = _window(other, replace(column, role=_role(node, column_first)))
            array = _array_parameter(other)
            if window is not None:
                pairs.append(window)
            elif array is not None and column is not None and isinstance(node, exp.EQ | exp.NEQ):
                pairs += [(array, replace(column, role="array")), *_inner(side)]
            elif anchored is not None and column is not None:
                pairs.append((anchored[0], replace(column, role=_role(node, column_first))))
                pairs += [(number, NeutralValue(numeric=True)) for number in anchored[1]]
                pairs += _inner(side)
    elif isinstance(node, exp.In):
        column = _column_of(node.this, scope)
        for other in node.expressions:
            number = _parameter_number(other)
            if column is not None and number is not None:
                pairs += [(number, column), *_inner(node.this)]
    elif isinstance(node, exp.Between):
        column = _column_of(node.this, scope)
        for other, role in ((node.args.get("low"), "lower"), (node.args.get("high"), "upper")):
            number = _parameter_number(other)
            if column is not None and number is not None:
                pairs += [(number, replace(column, role=cast(Role, role))), *_inner(node.this)]
    return pairs


def _aggregate_of(node: exp.Expr, clause: HavingClause) -> AggregateRef | None:
    """The aggregate `node` is, when it and every GROUP BY key read one and the same table."""
    while isinstance(node, exp.Paren):
        node = node.this
    if not isinstance(node, exp.AggFunc) or any(
        isinstance(n, exp.Window | exp.Query | exp.Parameter) for n in node.walk()
    ):
        return None
    keys = [clause.scope.key(group) for group in clause.groups]
    occurrence = keys[0][0] if keys and keys[0] is not None else None
    if occurrence is None or any(key is None or key[0] is not occurrence for key in keys):
        return None
    rendered = node.copy()
    for column in list(rendered.find_all(exp.Column)):
        resolved = clause.scope.resolve(column)
        if resolved is None or resolved[0] is not occurrence:
            return None
        column.replace(exp.column(resolved[1], quoted=quote_identifier(resolved[1]) != resolved[1]))
    groups = tuple(key[1] for key in keys if key is not None)
    table = occurrence.table
    return AggregateRef(table.schema_name, table.name, rendered.sql(dialect="postgres"), groups)


def _compared_aggregates(node: exp.Expr, clause: HavingClause) -> list[tuple[int, ParameterSource]]:
    """(parameter, aggregate) pairs of one HAVING comparison, in either order of its sides."""
    pairs: list[tuple[int, ParameterSource]] = []
    if isinstance(node, _COMPARISONS):
        for side, other, aggregate_first in (
            (node.this, node.expression, True),
            (node.expression, node.this, False),
        ):
            number, aggregate = _parameter_number(other), _aggregate_of(side, clause)
            if number is not None and aggregate is not None:
                pairs.append((number, replace(aggregate, role=_role(node, aggregate_first))))
    return pairs


def _outside_conditions(parameter: exp.Parameter) -> FixedValue | NeutralValue | None:
    """The source of a parameter no condition compares, when it cannot change which rows are read."""
    node: exp.Expr | None = parameter
    while node is not None:
        parent = node.parent
        if _is_field(node):
            return FixedValue(FIELD)  # extract($1 FROM d) / date_trunc($1, d): a field, any will do
        if isinstance(parent, _CONDITION_CLAUSES):
            return None
        node = parent
    return NeutralValue(numeric=_numeric_context(parameter))


def _numeric_context(parameter: exp.Parameter) -> bool:
    """`$1 - l_discount`, `CASE ... THEN $3 ELSE $4 END`: where TPC-H's number literals stood."""
    node: exp.Expr = parameter
    while isinstance(node.parent, exp.Paren | exp.Cast):
        node = node.parent
    parent = node.parent
    if isinstance(parent, exp.Add | exp.Sub | exp.Mul | exp.Div):
        return True
    if isinstance(parent, exp.If):
        return parent.args.get("true") is node
    return isinstance(parent, exp.Case) and parent.args.get("default") is node


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
    parameters = [(n, node) for node in statement.find_all(exp.Parameter) if (n := _parameter_number(node))]
    numbers = {n for n, _ in parameters}
    sources: dict[int, ParameterSource] = {}
    reading = read_statement(statement, tables)
    for condition, scope in reading.conditions:
        for node in condition.walk():
            for compared_number, compared_source in _compared(node, scope):
                sources.setdefault(compared_number, compared_source)
    for having in reading.having:
        for node in having.condition.walk():
            for compared_number, compared_source in _compared_aggregates(node, having):
                sources.setdefault(compared_number, compared_source)
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
    outside: dict[int, list[FixedValue | NeutralValue | None]] = {}
    for number, node in parameters:
        outside.setdefault(number, []).append(_outside_conditions(node))
    for number, found in outside.items():
        if number not in sources and None not in found:  # every occurrence outside the conditions
            sources[number] = found[0] or NeutralValue()
    missing = sorted(numbers - set(sources))
    if missing:
        listed = ", ".join(f"${n}" for n in missing)
        raise UnsampleableStatement(f"parameter(s) {listed} are not compared with a column of a known table")
    return sources
