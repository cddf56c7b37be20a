"""Candidate indexes for one statement, read from its text and the schema alone (no database).

name_resolution says which table occurrence every column belongs to; this module decides what each
predicate and sort asks of that occurrence, and turns it into B-tree key lists in the order a B-tree
can use them, minus what an existing index already serves. Whether a candidate actually helps is
HypoPG's call downstream: here a missed candidate costs a suggestion, a needless one a round trip.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.errors import SqlglotError

from agent.advise.candidate_index import CandidateIndex
from agent.advise.name_resolution import Scope, TableOccurrence, read_statement
from shared.sql.normalized_text import repair_normalized_text
from shared.sql.parsing import UnparseableStatementError, parse_single_statement
from shared.wire.snapshot import IndexStats, TableStats

_ANALYZED = (exp.Query, exp.Update, exp.Delete, exp.Insert)
_COMPARISONS: dict[type[exp.Expr], str] = {
    exp.EQ: "equality",
    exp.LT: "range",
    exp.LTE: "range",
    exp.GT: "range",
    exp.GTE: "range",
}


@dataclass
class _Wants:
    """What the statement asks of one table occurrence; keys in order of appearance."""

    keys: list[str] = field(default_factory=list)
    equality: list[str] = field(default_factory=list)
    ranges: list[str] = field(default_factory=list)
    orderings: list[list[str]] = field(default_factory=list)  # ORDER BY / GROUP BY lists of this table only

    def note(self, key: str, bucket: list[str] | None = None) -> None:
        for keys in (self.keys, bucket):
            if keys is not None and key not in keys:
                keys.append(key)


def _conjuncts(node: exp.Expr) -> Iterator[exp.Expr]:
    # Only AND-ed predicates: an OR or NOT branch does not restrict every row the index would return.
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.And):
        yield from _conjuncts(node.left)
        yield from _conjuncts(node.right)
    else:
        yield node


def _like_prefix(node: exp.Like) -> str:
    pattern = node.expression
    if not isinstance(pattern, exp.Literal) or not pattern.is_string:
        return ""  # a parameter can hold '%abc' as well as 'abc%'
    text = str(pattern.this)
    return text[: min((text.find(c) for c in "%_\\" if c in text), default=len(text))]


def _read_predicate(node: exp.Expr, scope: Scope, wants: dict[TableOccurrence, _Wants]) -> None:
    def compare(side: exp.Expr, others: Iterable[exp.Expr | None], kind: str) -> None:
        key = scope.key(side)
        if key is None:
            return
        occurrence, name = key
        # `a.x = a.y + 1` changes with the row itself: no index on x can look it up.
        if not any(other is not None and scope.involves(other, occurrence) for other in others):
            target = wants.setdefault(occurrence, _Wants())
            target.note(name, target.equality if kind == "equality" else target.ranges)

    kind = _COMPARISONS.get(type(node))
    if kind is not None:
        # Both directions: `a.x = b.y` is a join key on each side, `$1 < x` a range on x.
        compare(node.this, [node.expression], kind)
        compare(node.expression, [node.this], kind)
    elif isinstance(node, exp.Between):
        compare(node.this, [node.args["low"], node.args["high"]], "range")
    elif isinstance(node, exp.In) and not node.args.get("unnest"):
        compare(node.this, [*node.expressions, node.args.get("query")], "equality")
    elif isinstance(node, exp.Is) and isinstance(node.expression, exp.Null):
        compare(node.this, [], "equality")
    elif isinstance(node, exp.Like) and _like_prefix(node):
        compare(node.this, [], "range")


def _read_ordering(keys: list[exp.Expr], scope: Scope, wants: dict[TableOccurrence, _Wants]) -> None:
    resolved = [scope.key(key) for key in keys]
    found = [item for item in resolved if item is not None]
    for occurrence, name in found:
        wants.setdefault(occurrence, _Wants()).note(name)
    # Only a list that one table provides entirely can be read in index order.
    if found and len(found) == len(resolved) and all(o is found[0][0] for o, _ in found):
        wants[found[0][0]].orderings.append([name for _, name in found])


def _distinct_values(table: TableStats, key: str) -> float | None:
    column = next((c for c in table.columns if c.name == key), None)
    if column is None or column.n_distinct is None:
        return None
    # Negative: a fraction of the rows (ANALYZE's way of saying "grows with the table").
    return column.n_distinct if column.n_distinct >= 0 else -column.n_distinct * max(table.row_estimate, 1.0)


def _key_lists(table: TableStats, wants: _Wants, max_width: int) -> Iterator[tuple[str, ...]]:
    for key in wants.keys:
        yield (key,)

    def selectivity(key: str) -> tuple[bool, float]:
        distinct = _distinct_values(table, key)
        return distinct is None, -(distinct or 0.0)

    # sorted() is stable: keys without statistics keep their order of appearance, after the others.
    equality = sorted(wants.equality, key=selectivity)
    # After the equality keys a B-tree can serve one range, or one sort: the equality keys are
    # constant within the matching rows, so they drop out of the sort keys.
    tails = [[], *([r] for r in wants.ranges), *wants.orderings]
    for tail in tails:
        keys = tuple([*equality, *(k for k in tail if k not in equality)][:max_width])
        if len(keys) > 1:
            yield keys


def _covered(candidate: CandidateIndex, indexes: Sequence[IndexStats]) -> bool:
    width = len(candidate.columns)
    return any(
        index.is_valid
        and not index.is_partial  # it only serves queries that imply its predicate
        and index.access_method == "btree"
        and (index.schema_name, index.table) == (candidate.schema_name, candidate.table)
        and "expr" not in index.columns[:width]  # an expression key whose text the wire does not carry
        and tuple(index.columns[:width]) == candidate.columns
        for index in indexes
    )


def candidates_for_statement(
    sql_text: str, tables: Sequence[TableStats], indexes: Sequence[IndexStats], *, max_width: int = 3
) -> list[CandidateIndex]:
    """B-tree candidates for one (normalized) statement, minus what existing valid indexes cover.

    Only SELECT, UPDATE, DELETE and INSERT ... SELECT are read; anything else, and any text that
    does not parse as exactly one statement, yields []. Sorted by schema, table and keys.
    """
    if max_width < 1:
        raise ValueError("max_width must be at least 1")
    try:
        # The shared parser is muted: statement text must never reach a log line.
        statement = parse_single_statement(repair_normalized_text(sql_text))
        if not isinstance(statement, _ANALYZED):
            return []
        reading = read_statement(statement, tables)
        wants: dict[TableOccurrence, _Wants] = {}
        for condition, scope in reading.conditions:
            for predicate in _conjuncts(condition):
                _read_predicate(predicate, scope, wants)
        for keys, scope in reading.orderings:
            _read_ordering(keys, scope, wants)
    except (UnparseableStatementError, SqlglotError, RecursionError):
        return []
    found = {
        CandidateIndex(occurrence.table.schema_name, occurrence.table.name, keys)
        for occurrence, wanted in wants.items()
        for keys in _key_lists(occurrence.table, wanted, max_width)
    }
    return sorted(candidate for candidate in found if not _covered(candidate, indexes))
