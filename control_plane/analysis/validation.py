"""What of a model's answer may go any further: the allow-list, checked against the stored schema.

An LLM suggestion survives only as one of three things:

* an index: `create_index` on a table that exists, with columns that exist in it (any SQL the model
  wrote must itself be a CREATE INDEX; the DDL that reaches the agent is always generated here);
* a rewrite: exactly one read-only SELECT (`shared.sql.read_only`), over existing tables, using no
  parameter the original does not have, of an original that is itself a SELECT;
* advice (`config`/`advisory`): text, optionally with a SET or ANALYZE statement to show.

Everything else (DROP TABLE, ALTER, DELETE, unknown tables and columns) is dropped here with the
reason, and recorded on the analysis run. Nothing dropped is ever queued for an agent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from sqlglot import exp

from control_plane.analysis.context import StatementContext, TableContext, resolve_table
from control_plane.analysis.llm.structured import Suggestion, SuggestionSet
from shared.sql.normalized_text import max_parameter_number, repair_normalized_text
from shared.sql.parsing import parse_single_statement
from shared.sql.read_only import check_read_only_select

MAX_INDEX_COLUMNS = 8
_CREATE_INDEX = re.compile(r"^\s*CREATE\s+(UNIQUE\s+)?INDEX\b", re.IGNORECASE)
_ADVICE_SQL = re.compile(
    r"^\s*(SET(\s+LOCAL)?\s+[a-z_.]+\s*(=|TO)|ANALYZE\b|CREATE\s+STATISTICS\b)", re.IGNORECASE
)


@dataclass(frozen=True)
class AcceptedSuggestion:
    kind: Literal["create_index", "rewrite", "advisory"]
    rationale: str
    confidence: float
    risk: str
    table: str | None = None
    columns: tuple[str, ...] = ()
    sql: str | None = None


@dataclass(frozen=True)
class DroppedSuggestion:
    fingerprint: str
    kind: str
    reason: str
    sql: str | None = None

    def as_record(self) -> dict[str, str | None]:
        return {"fingerprint": self.fingerprint, "kind": self.kind, "reason": self.reason, "sql": self.sql}


def validate_answer(
    answer: SuggestionSet, context: StatementContext, known_tables: list[TableContext]
) -> tuple[list[AcceptedSuggestion], list[DroppedSuggestion]]:
    accepted: list[AcceptedSuggestion] = []
    dropped: list[DroppedSuggestion] = []
    for suggestion in answer.suggestions:
        verdict = validate_suggestion(suggestion, context, known_tables)
        if isinstance(verdict, str):
            sql = suggestion.sql[:500] if suggestion.sql else None
            dropped.append(DroppedSuggestion(context.fingerprint, suggestion.kind, verdict, sql))
        else:
            accepted.append(verdict)
    return accepted, dropped


def validate_suggestion(
    suggestion: Suggestion, context: StatementContext, known_tables: list[TableContext]
) -> AcceptedSuggestion | str:
    """The suggestion as it may be pursued, or why it may not."""
    if suggestion.kind == "create_index":
        return _index(suggestion, known_tables)
    if suggestion.kind == "rewrite":
        return _rewrite(suggestion, context, known_tables)
    return _advice(suggestion, known_tables)


def _index(suggestion: Suggestion, known_tables: list[TableContext]) -> AcceptedSuggestion | str:
    if suggestion.sql and not _CREATE_INDEX.match(suggestion.sql):
        return "not on the allow-list: an index suggestion may only carry CREATE INDEX"
    if suggestion.sql and ";" in suggestion.sql.strip().rstrip(";"):
        return "not on the allow-list: more than one statement"
    table = resolve_table(suggestion.table, known_tables)
    if table is None:
        return f"table {suggestion.table!r} does not exist in the stored schema"
    if not suggestion.columns or len(suggestion.columns) > MAX_INDEX_COLUMNS:
        return f"an index needs 1 to {MAX_INDEX_COLUMNS} columns"
    missing = [c for c in suggestion.columns if not table.has_column(c)]
    if missing:
        return f"column {missing[0]!r} does not exist in {table.name}"
    if len(set(suggestion.columns)) != len(suggestion.columns):
        return "an index names a column twice"
    return AcceptedSuggestion(
        kind="create_index",
        table=table.name,
        columns=tuple(suggestion.columns),
        rationale=suggestion.rationale,
        confidence=suggestion.confidence,
        risk=suggestion.risk,
    )


def _rewrite(
    suggestion: Suggestion, context: StatementContext, known_tables: list[TableContext]
) -> AcceptedSuggestion | str:
    if not suggestion.sql:
        return "a rewrite needs its SQL"
    verdict = check_read_only_select(suggestion.sql)
    if not verdict.ok:
        return f"not on the allow-list: not a read-only SELECT ({verdict.reason})"
    if context.statement_type != "select":
        return "only SELECT statements are rewritten"
    if max_parameter_number(suggestion.sql) > max_parameter_number(context.query):
        return "the rewrite uses a parameter the original does not have"
    if _normalized(suggestion.sql) == _normalized(context.query):
        return "the rewrite is the original statement"
    unknown = _unknown_names(suggestion.sql, context, known_tables)
    if unknown:
        return unknown
    return AcceptedSuggestion(
        kind="rewrite",
        sql=suggestion.sql.strip().rstrip(";").strip(),
        rationale=suggestion.rationale,
        confidence=suggestion.confidence,
        risk=suggestion.risk,
    )


def _advice(suggestion: Suggestion, known_tables: list[TableContext]) -> AcceptedSuggestion | str:
    sql = (suggestion.sql or "").strip()
    if sql and (not _ADVICE_SQL.match(sql) or ";" in sql.rstrip(";")):
        return "not on the allow-list: advice may only show a SET, ANALYZE or CREATE STATISTICS statement"
    table = None
    if suggestion.table:
        found = resolve_table(suggestion.table, known_tables)
        if found is None:
            return f"table {suggestion.table!r} does not exist in the stored schema"
        table = found.name
    return AcceptedSuggestion(
        kind="advisory",
        table=table,
        sql=sql or None,
        rationale=suggestion.rationale,
        confidence=suggestion.confidence,
        risk=suggestion.risk,
    )


def _normalized(sql: str) -> str:
    return " ".join(sql.strip().rstrip(";").lower().split())


def _unknown_names(sql: str, context: StatementContext, known_tables: list[TableContext]) -> str | None:
    """A table the schema does not have, or a column none of the rewrite's tables has."""
    try:
        tree = parse_single_statement(repair_normalized_text(sql))
    except ValueError:
        return "the rewrite could not be parsed"
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    tables: list[TableContext] = []
    for node in tree.find_all(exp.Table):
        if node.name in ctes:
            continue
        name = f"{node.db}.{node.name}" if node.db else node.name
        table = resolve_table(name, known_tables)
        if table is None:
            return f"table {name!r} does not exist in the stored schema"
        tables.append(table)
    if ctes:
        return None  # columns of a CTE are its own; the agent's planner checks the rest
    aliases = {a.alias for a in tree.find_all(exp.Alias)}
    for column in tree.find_all(exp.Column):
        name = column.name
        if not name or name == "*" or name in aliases:
            continue
        if not any(t.has_column(name) for t in tables):
            return f"column {name!r} does not exist in the tables the rewrite reads"
    return None
