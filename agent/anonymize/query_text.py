"""Anonymization of statement text from pg_stat_statements.

The invariant: what comes out holds no credential, no literal from the query and no row data; text
that cannot be anonymized with certainty is rejected, never passed on. Defence in depth:

1. Before sqlglot sees anything, our own PostgreSQL-faithful scanner turns every quoted constant
   (strings, E/B/X/N/U& strings, dollar quotes) into a fresh `$n` and drops every comment. sqlglot
   therefore never has to get quoting right for us, and its fallback paths never see the data.
2. The leading keyword sorts out transaction control and utility statements (which pg_stat_statements
   stores raw, passwords included) without parsing them at all; an unknown one is unparseable.
3. The parsed tree has its remaining constants (numbers) replaced by parameters as well.
4. The generated text is scanned again: anything quoted that is not an identifier means rejection.
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass
from typing import Literal

from sqlglot import exp

from shared.sql.fingerprint import fingerprint_of
from shared.sql.normalized_text import (
    Segment,
    max_parameter_number_in,
    repair_normalized_text,
    split_segments,
)
from shared.sql.parsing import parse_single_statement, to_postgres_sql
from shared.wire.snapshot import StatementType

# Statements longer than this are not worth the parse time in a collection cycle.
MAX_TEXT_LENGTH = 200_000
# The same text shows up under many queryids (one per role and database). Only short texts are
# remembered, so that the cache stays a few megabytes whatever the workload.
_CACHED_TEXT_LENGTH = 4_000

RejectionReason = Literal["utility", "transaction_control", "unparseable"]


@dataclass(frozen=True, slots=True)
class AnonymizedStatement:
    query: str
    fingerprint: str
    statement_type: StatementType
    relations: tuple[str, ...]
    catalog_only: bool


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: RejectionReason


_TRANSACTION_KEYWORDS = frozenset(
    {"begin", "start", "commit", "end", "rollback", "abort", "savepoint", "release"}
)
_QUERY_KEYWORDS = frozenset({"select", "insert", "update", "delete", "merge", "with", "values", "table"})
# Every other command PostgreSQL knows. These are stored raw (passwords, function bodies, COPY options),
# so they are recognised by name and never handed to sqlglot, whose fallback parse is opaque anyway.
_UTILITY_KEYWORDS = frozenset(
    {
        "alter", "analyze", "analyse", "call", "checkpoint", "close", "cluster", "comment", "copy",
        "create", "deallocate", "declare", "discard", "do", "drop", "execute", "explain", "fetch",
        "grant", "import", "listen", "load", "lock", "move", "notify", "prepare", "reassign", "refresh",
        "reindex", "reset", "revoke", "security", "set", "show", "truncate", "unlisten", "vacuum",
    }
)  # fmt: skip
_LEADING_WORDS = re.compile(r"[\s(]*([A-Za-z_]+)(?:\s+([A-Za-z_]+))?")
# PostgreSQL 16 integer forms that sqlglot misreads (`1_000` as `1 AS _000`): replaced in the text.
_UNUSUAL_NUMBER = re.compile(
    r"(?<![\w$.])(?:0[xXoObB][0-9a-fA-F_]+|\d+(?:_\d+)+(?:\.\d+(?:_\d+)*)?)(?![\w$])"
)

_QUERY_TYPES: tuple[tuple[type[exp.Expression], StatementType], ...] = (
    (exp.Select, "select"),
    (exp.SetOperation, "select"),
    (exp.Values, "select"),
    (exp.Insert, "insert"),
    (exp.Update, "update"),
    (exp.Delete, "delete"),
    (exp.Merge, "merge"),
)
_TRANSACTION_TYPES = (exp.Transaction, exp.Commit, exp.Rollback)
_CONSTANT_TYPES = (
    exp.Literal,
    exp.BitString,
    exp.HexString,
    exp.ByteString,
    exp.RawString,
    exp.UnicodeString,
    exp.National,
)
_SYSTEM_SCHEMAS = frozenset({"pg_catalog", "information_schema", "pg_toast"})
# No select list is longer than PostgreSQL's column limit; a larger "position" is a value after all.
_MAX_POSITION = 1664


def anonymize_query(text: str) -> AnonymizedStatement | Rejected:
    """Anonymize one pg_stat_statements text, or say why it will not be sent."""
    if len(text) > MAX_TEXT_LENGTH:
        return Rejected("unparseable")
    return _anonymize_cached(text) if len(text) <= _CACHED_TEXT_LENGTH else _anonymize(text)


@functools.lru_cache(maxsize=4096)
def _anonymize_cached(text: str) -> AnonymizedStatement | Rejected:
    return _anonymize(text)


def _anonymize(text: str) -> AnonymizedStatement | Rejected:
    segments = split_segments(text)
    first_new = max_parameter_number_in(segments) + 1
    stripped = _replace_quoted_constants(segments, first_new)
    if stripped is None:
        return Rejected("unparseable")
    kind = _classify_by_leading_words(stripped)
    if kind != "query":
        return Rejected(kind)
    try:
        return _anonymize_parsed(parse_single_statement(repair_normalized_text(stripped)), first_new)
    except Exception:
        # UnparseableStatementError, or whatever else sqlglot or the tree walk trips over (deep
        # nesting hits RecursionError): the statement is dropped, never sent half-done.
        return Rejected("unparseable")


def _replace_quoted_constants(segments: list[Segment], first_number: int) -> str | None:
    parts: list[str] = []
    numbers = itertools.count(first_number)
    continues_string = False
    for segment in segments:
        if not segment.terminated:
            return None
        if segment.kind == "comment":
            parts.append(" ")
        elif segment.kind == "code":
            continues_string = continues_string and segment.text.isspace()
            parts.append(_UNUSUAL_NUMBER.sub(lambda _: f" ${next(numbers)} ", segment.text))
        elif segment.kind == "identifier":
            parts.append(segment.text)
            continues_string = False
        elif segment.kind == "string" and continues_string and "\n" in parts[-1]:
            pass  # 'a'<newline>'b' is one constant to PostgreSQL, and it already has its placeholder.
        else:
            parts.append(f" ${next(numbers)} ")
            continues_string = segment.kind == "string"
    return "".join(parts)


def _classify_by_leading_words(
    text: str,
) -> Literal["query", "transaction_control", "utility", "unparseable"]:
    match = _LEADING_WORDS.match(text)
    if match is None:
        return "unparseable"
    first, second = match.group(1).lower(), (match.group(2) or "").lower()
    if first in _TRANSACTION_KEYWORDS or (first == "prepare" and second == "transaction"):
        return "transaction_control"
    if first in _QUERY_KEYWORDS:
        return "query"
    return "utility" if first in _UTILITY_KEYWORDS else "unparseable"


def _statement_type(tree: exp.Expression) -> StatementType | Rejected:
    if isinstance(tree, exp.Subquery):
        inner = tree.unnest()
        return _statement_type(inner) if isinstance(inner, exp.Expression) else Rejected("unparseable")
    if isinstance(tree, exp.Select) and tree.args.get("into") is not None:
        return Rejected("utility")  # SELECT ... INTO creates a table: PostgreSQL runs it as CREATE TABLE AS.
    for expression_type, statement_type in _QUERY_TYPES:
        if isinstance(tree, expression_type):
            return statement_type
    return Rejected("transaction_control" if isinstance(tree, _TRANSACTION_TYPES) else "utility")


def _anonymize_parsed(tree: exp.Expression, first_new: int) -> AnonymizedStatement | Rejected:
    statement_type = _statement_type(tree)
    if isinstance(statement_type, Rejected):
        return statement_type
    slots: list[exp.Expression] = []
    relations: set[str] = set()
    cte_names: set[str] = set()
    calls_pg_function = False
    for node in tree.walk(bfs=False, prune=lambda node: isinstance(node, exp.Parameter | exp.DataType)):
        if isinstance(node, exp.Parameter):
            if node.this.is_int and int(node.name) >= first_new:
                slots.append(node)
        elif isinstance(node, _CONSTANT_TYPES):
            if not _is_position(node):
                slots.append(node)
        elif isinstance(node, exp.Command):
            return Rejected("unparseable")  # an opaque fallback inside a statement: cannot vouch for it
        elif isinstance(node, exp.Table):
            if isinstance(node.this, exp.Identifier) and not isinstance(node.parent, exp.Lock):
                relations.add(_relation_name(node))
        elif isinstance(node, exp.CTE):
            cte_names.add(_folded(node.args["alias"].this if node.args.get("alias") else None))
        elif isinstance(node, exp.Func):
            name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
            calls_pg_function = calls_pg_function or name.lower().startswith("pg_")
    _number_slots(slots, first_new)
    relations -= cte_names  # a CTE name is only ever unqualified, and shadows a table of that name
    query = to_postgres_sql(tree, copy=False)
    fingerprint = fingerprint_of(tree, copy=False)  # last use of the tree: no copy needed
    if any(segment.kind not in ("code", "identifier") for segment in split_segments(query)):
        return Rejected("unparseable")  # sqlglot wrote a quoted constant of its own making
    system = [_is_system_relation(relation) for relation in relations]
    return AnonymizedStatement(
        query=query,
        fingerprint=fingerprint,
        statement_type=statement_type,
        relations=tuple(sorted(relations)),
        catalog_only=all(system) if system else calls_pg_function,
    )


def _folded(identifier: exp.Expression | None) -> str:
    """An identifier as PostgreSQL's parser reads it: unquoted folds to lower case, quoted is kept.

    Only names are kept as written: a literal never reaches here (it is a placeholder by then)."""
    if not isinstance(identifier, exp.Identifier):
        return ""
    return str(identifier.this) if identifier.quoted else str(identifier.this).lower()


def _relation_name(table: exp.Table) -> str:
    # `"Bar"."Foo"` is the catalog's Bar.Foo, `Bar.Foo` is bar.foo: the advisor matches these
    # against catalog names, so lower-casing a quoted name would lose its table.
    name, schema = _folded(table.this), _folded(table.args.get("db"))
    return f"{schema}.{name}" if schema else name


def _is_position(constant: exp.Expression) -> bool:
    # `ORDER BY 1` and `GROUP BY 1` name an output column; pg_stat_statements keeps them, so do we.
    # Inside a window, ORDER BY 1 is a constant like any other.
    parent = constant.parent
    if not isinstance(constant, exp.Literal) or not constant.is_int or int(constant.name) > _MAX_POSITION:
        return False
    if isinstance(parent, exp.Group):
        return True
    order = parent.parent if isinstance(parent, exp.Ordered) else None
    return isinstance(order, exp.Order) and not isinstance(order.parent, exp.Window)


def _number_slots(slots: list[exp.Expression], first_new: int) -> None:
    # Placeholders made from quoted constants and from numbers share one sequence, in tree order.
    for number, slot in enumerate(slots, start=first_new):
        if isinstance(slot, exp.Parameter):
            slot.set("this", exp.Literal.number(number))
            continue
        target = slot.parent if isinstance(slot.parent, exp.Neg) and slot.is_number else slot
        target.replace(exp.Parameter(this=exp.Literal.number(number)))


def _is_system_relation(relation: str) -> bool:
    schema, _, table = relation.rpartition(".")
    return schema in _SYSTEM_SCHEMAS if schema else table.startswith("pg_")
