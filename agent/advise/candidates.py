"""Candidate indexes for one statement, read from its text and the schema alone (no database).

name_resolution says which table occurrence every column belongs to; this module decides what each
predicate and sort asks of that occurrence, and turns it into B-tree key lists in the order a B-tree
can use them, minus what an existing index already serves. When every column a query level reads of
an occurrence fits in the width, a key list is also proposed with those columns appended: a covering
index, which an index-only scan can answer without visiting the table. Such a widening of a key list
an existing index already serves (a primary key's leading column) is proposed too: it is no longer
covered. Whether a candidate actually helps is HypoPG's call downstream: here a missed candidate
costs a suggestion, a needless one a round trip.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.errors import SqlglotError

from agent.advise.candidate_index import CandidateIndex
from agent.advise.name_resolution import (
    Scope,
    StatementReading,
    TableOccurrence,
    ViewDefinitions,
    identifier_name,
    occurrences_beneath,
    read_statement,
)
from shared.sql.normalized_text import repair_normalized_text
from shared.sql.parsing import UnparseableStatementError, parse_single_statement
from shared.wire.snapshot import IndexStats, TableStats

_ANALYZED = (exp.Query, exp.Update, exp.Delete, exp.Insert)
# Keys a composite candidate has at most: its equality keys, then one range or sort.
MAX_KEY_WIDTH = 3
# Columns a covering widening has at most: one more than a key list, because an aggregate over a
# range commonly reads three more columns than it filters on. TPC-H Q6 at scale factor 1 filters
# lineitem on l_shipdate and reads l_discount, l_quantity and l_extendedprice: the four-column index
# answers it by an index-only scan, 0.37 s -> 0.07 s, and Q14 (a month of l_shipdate) 0.38 s ->
# 0.22 s, with no query slower; at three columns it was never proposed.
MAX_COVERING_WIDTH = 4
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
    joins: list[str] = field(default_factory=list)  # keys compared with other rows' columns (or a subquery)

    def note(self, key: str, bucket: list[str] | None = None) -> None:
        for keys in (self.keys, bucket):
            if keys is not None and key not in keys:
                keys.append(key)


def conjuncts(node: exp.Expr) -> Iterator[exp.Expr]:
    # Only AND-ed predicates: an OR or NOT branch does not restrict every row the index would return.
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.And):
        yield from conjuncts(node.left)
        yield from conjuncts(node.right)
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
            if any(other is not None and other.find(exp.Column, exp.Query) for other in others):
                target.note(name, target.joins)

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


def _read_columns(reading: StatementReading) -> dict[TableOccurrence, list[str] | None]:
    """Every column each occurrence is read for, in order of appearance; None: all of them (`*`).

    A query level is read with the scope of its WHERE or JOIN condition (which sees enclosing levels,
    so correlated references count for the outer occurrence) or else of its ORDER BY or GROUP BY.
    Only SELECT levels: an UPDATE or DELETE visits the row whatever the index holds.
    """
    scopes: dict[int, tuple[exp.Select, Scope]] = {}
    for node, scope in [
        *reading.conditions,
        *((keys[0], scope) for keys, scope in reading.orderings if keys),
    ]:
        level = node.find_ancestor(exp.Select, exp.Update, exp.Delete)
        if isinstance(level, exp.Select):
            scopes.setdefault(id(level), (level, scope))
    read: dict[TableOccurrence, list[str] | None] = {}
    for level, scope in scopes.values():
        _read_level(level, scope, read)
    return read


def _read_level(level: exp.Select, scope: Scope, read: dict[TableOccurrence, list[str] | None]) -> None:
    def nested(node: exp.Expr) -> bool:
        return node is not level and isinstance(node, exp.Query)  # read with its own scope

    local = scope.frames[-1]
    for node in level.walk(prune=nested):
        if isinstance(node, exp.Star) and node.parent is level:
            if not isinstance(level.parent, exp.Exists):  # EXISTS (SELECT * ...) reads no column
                read.update(dict.fromkeys(o for s in local.values() for o in occurrences_beneath(s)))
        elif isinstance(node, exp.Column) and isinstance(node.this, exp.Star):
            source = local.get(identifier_name(node.args.get("table")))
            if isinstance(source, TableOccurrence):
                read[source] = None
        elif isinstance(node, exp.Column):
            resolved = scope.resolve(node)
            if resolved is not None and isinstance(resolved[0], TableOccurrence):
                columns = read.setdefault(resolved[0], [])
                if columns is not None and resolved[1] not in columns:
                    columns.append(resolved[1])


def _unique_lookup(table: TableStats, equality: Iterable[str], indexes: Sequence[IndexStats]) -> bool:
    """Whether a unique index makes these equality keys match at most one row."""
    keys = set(equality)
    return any(
        index.is_unique
        and index.is_valid
        and not index.is_partial
        and (index.schema_name, index.table) == (table.schema_name, table.name)
        and index.columns
        and set(index.columns) <= keys
        for index in indexes
    )


def _covering(
    keys: tuple[str, ...], read: list[str] | None, max_covering_width: int
) -> tuple[str, ...] | None:
    """`keys` with the other columns the query reads appended, when they all fit."""
    if read is None:
        return None
    extra = [column for column in read if column not in keys]
    return (*keys, *extra) if extra and len(keys) + len(extra) <= max_covering_width else None


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
    sql_text: str,
    tables: Sequence[TableStats],
    indexes: Sequence[IndexStats],
    *,
    max_width: int = MAX_KEY_WIDTH,
    max_covering_width: int = MAX_COVERING_WIDTH,
    covering: bool = True,
    views: ViewDefinitions | None = None,
) -> list[CandidateIndex]:
    """B-tree candidates for one (normalized) statement, minus what existing valid indexes cover.

    `covering`: also the covering widenings of the key lists, of at most `max_covering_width`
    columns (worth it only where HypoPG can tell whether an index-only scan pays). `views`:
    definitions of the views it may read through.

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
        reading = read_statement(statement, tables, views)
        wants: dict[TableOccurrence, _Wants] = {}
        for condition, scope in reading.conditions:
            for predicate in conjuncts(condition):
                _read_predicate(predicate, scope, wants)
        for keys, scope in reading.orderings:
            _read_ordering(keys, scope, wants)
        columns_read = _read_columns(reading)
    except (UnparseableStatementError, SqlglotError, RecursionError):
        return []
    found: set[CandidateIndex] = set()
    for occurrence, wanted in wants.items():
        table = occurrence.table
        read = columns_read.get(occurrence) if covering else None  # missing: no known scope
        for key_list in _key_lists(table, wanted, max_width):
            found.add(CandidateIndex(table.schema_name, table.name, key_list))
            widened = _covering(key_list, read, max_covering_width)
            # Skipping the table pays only for many rows: not for a point lookup a unique index
            # answers (a join through a unique key, though, reads many rows).
            point = (k for k in key_list if k in wanted.equality and k not in wanted.joins)
            if widened is not None and not _unique_lookup(table, point, indexes):
                found.add(CandidateIndex(table.schema_name, table.name, widened))
    return sorted(candidate for candidate in found if not _covered(candidate, indexes))
