"""A snapshot, as it leaves the agent in privacy mode: every schema object name a pseudonym.

Applied to the finished (already anonymized) snapshot just before it is spooled, so that nothing
with a real name reaches the spool's outbox. Every field that can hold a name is rewritten; a text
that cannot be rewritten is dropped (a statement is counted as unparseable, an index definition or
a plan string becomes null, a finding is not sent), never sent as it was.
"""

from __future__ import annotations

import functools
import hashlib
import logging

from agent.privacy.names import PseudonymCollision, Pseudonyms
from agent.privacy.plan import pseudonymous_plan
from agent.privacy.sql_text import pseudonymous_expression, pseudonymous_statement, pseudonymous_type
from shared.sql.parsing import UnparseableStatementError
from shared.wire.advice import AdviceReport, BenchmarkEvidence, QueryEvidence, Recommendation
from shared.wire.snapshot import ColumnStats, IndexStats, PlanSample, Snapshot, StatementStats, TableStats

log = logging.getLogger(__name__)

PRIVACY_MODE = "pseudonyms"
EXPRESSION_KEY = "expr"
_CACHED_TEXT_LENGTH = 4_000
_NOT_REWRITTEN = (UnparseableStatementError, PseudonymCollision, RecursionError)


def pseudonymous_snapshot(snapshot: Snapshot, names: Pseudonyms) -> Snapshot:
    statements = [s for s in (_statement(s, names) for s in snapshot.statements) if s is not None]
    lost = len(snapshot.statements) - len(statements)
    dropped = snapshot.dropped.model_copy(update={"unparseable": snapshot.dropped.unparseable + lost})
    plans = [_plan(plan, names) for plan in snapshot.plans]
    return snapshot.model_copy(
        update={
            "statements": statements,
            "tables": [t for t in (_table(t, names) for t in snapshot.tables) if t is not None],
            "indexes": [i for i in (_index(i, names) for i in snapshot.indexes) if i is not None],
            "plans": [plan for plan in plans if plan is not None],
            "dropped": dropped,
            # Not a schema object, but a name all the same (`payroll_prod`): the control plane never uses it.
            "database_name": names.pseudonym(snapshot.database_name, "d"),
            "findings": None
            if snapshot.findings is None
            else pseudonymous_findings(snapshot.findings, names),
            "privacy": PRIVACY_MODE,
        }
    )


def pseudonymous_query(text: str, names: Pseudonyms) -> str | None:
    # Parsing and printing take about 1.3 ms a statement (6.5 s for a first snapshot of 5,000), and a
    # statement comes back cycle after cycle: short texts are remembered, as the anonymizer does.
    if len(text) <= _CACHED_TEXT_LENGTH:
        return _cached_query(text, names)
    return _query(text, names)


@functools.lru_cache(maxsize=8192)
def _cached_query(text: str, names: Pseudonyms) -> str | None:
    return _query(text, names)


def _query(text: str, names: Pseudonyms) -> str | None:
    try:
        return pseudonymous_statement(text, names)
    except _NOT_REWRITTEN:
        return None


def pseudonymous_column(column: str, names: Pseudonyms) -> str | None:
    """A key column, or an expression key such as lower(email)."""
    if column == EXPRESSION_KEY:
        return column
    try:
        if column.isidentifier() or column.replace("$", "_").isidentifier():
            return names.pseudonym(column, "c")
        return pseudonymous_expression(column, names)
    except _NOT_REWRITTEN:
        return None


def _statement(statement: StatementStats, names: Pseudonyms) -> StatementStats | None:
    if statement.query is None:  # its text left out (statement_texts): only the fingerprint to hide
        return statement.model_copy(update={"fingerprint": names.fingerprint(statement.fingerprint)})
    query = pseudonymous_query(statement.query, names)
    if query is None:
        log.debug("statement %s not sent: its names could not be pseudonymized", statement.fingerprint)
        return None
    try:
        relations = [names.qualified(relation) for relation in statement.relations]
    except PseudonymCollision:
        return None
    return statement.model_copy(
        update={
            "query": query,
            "relations": relations,
            "fingerprint": names.fingerprint(statement.fingerprint),
        }
    )


def _column(column: ColumnStats, names: Pseudonyms) -> ColumnStats:
    try:
        column_type = pseudonymous_type(column.type, names)
    except _NOT_REWRITTEN:
        column_type = names.pseudonym(column.type, "y")
    return column.model_copy(update={"name": names.pseudonym(column.name, "c"), "type": column_type})


def _table(table: TableStats, names: Pseudonyms) -> TableStats | None:
    try:
        return table.model_copy(
            update={
                "schema_name": names.pseudonym(table.schema_name, "s"),
                "name": names.pseudonym(table.name, "t"),
                "columns": [_column(column, names) for column in table.columns],
            }
        )
    except PseudonymCollision:
        return None


def _index(index: IndexStats, names: Pseudonyms) -> IndexStats | None:
    columns = [pseudonymous_column(column, names) for column in index.columns]
    try:
        return index.model_copy(
            update={
                "schema_name": names.pseudonym(index.schema_name, "s"),
                "table": names.pseudonym(index.table, "t"),
                "name": names.pseudonym(index.name, "i"),
                "definition": None
                if index.definition is None
                else pseudonymous_query(index.definition, names),
                "columns": [column if column is not None else EXPRESSION_KEY for column in columns],
            }
        )
    except PseudonymCollision:
        return None


def _plan(sample: PlanSample, names: Pseudonyms) -> PlanSample | None:
    try:
        plan = pseudonymous_plan(sample.plan, names)
    except PseudonymCollision:
        return None
    if not isinstance(plan, dict):
        return None
    return sample.model_copy(update={"plan": plan, "fingerprint": names.fingerprint(sample.fingerprint)})


def pseudonymous_findings(report: AdviceReport, names: Pseudonyms) -> AdviceReport:
    kept = [r for r in (_kept_recommendation(r, names) for r in report.recommendations) if r is not None]
    return report.model_copy(update={"recommendations": kept, "skipped": []})


def _kept_recommendation(recommendation: Recommendation, names: Pseudonyms) -> Recommendation | None:
    try:
        return _recommendation(recommendation, names)
    except PseudonymCollision:
        return None


def _recommendation(recommendation: Recommendation, names: Pseudonyms) -> Recommendation | None:
    sql = pseudonymous_query(recommendation.sql, names)
    columns = [pseudonymous_column(column, names) for column in recommendation.columns]
    if sql is None or None in columns:
        log.warning("recommendation %s not sent: its names could not be pseudonymized", recommendation.id)
        return None
    rollback = recommendation.rollback_sql
    queries = [q for q in (_evidence(q, names) for q in recommendation.queries) if q is not None]
    table = recommendation.table
    identifier = f"{recommendation.kind}:{hashlib.sha256(sql.encode()).hexdigest()[:16]}"
    log.info("finding %s (sent as %s): %s", recommendation.id, identifier, recommendation.rationale)
    return recommendation.model_copy(
        update={
            # The id is a hash of the real names: derived anew from the pseudonymous SQL, as stable.
            "id": identifier,
            "sql": sql,
            "rollback_sql": None if rollback is None else pseudonymous_query(rollback, names),
            "table": None if table is None else names.qualified(table),
            "columns": [column for column in columns if column is not None],
            "queries": queries,
            "benchmark": _benchmark(recommendation.benchmark, names),
            "rationale": _rationale(recommendation, len(queries)),
        }
    )


def _evidence(evidence: QueryEvidence, names: Pseudonyms) -> QueryEvidence | None:
    query = pseudonymous_query(evidence.query, names)
    if query is None:
        return None
    return evidence.model_copy(
        update={"query": query, "fingerprint": names.fingerprint(evidence.fingerprint)}
    )


def _benchmark(evidence: BenchmarkEvidence | None, names: Pseudonyms) -> BenchmarkEvidence | None:
    if evidence is None:
        return None
    statements = [
        s.model_copy(update={"fingerprint": names.fingerprint(s.fingerprint)}) for s in evidence.statements
    ]
    return evidence.model_copy(update={"statements": statements})


def _rationale(recommendation: Recommendation, statements: int) -> str:
    # The advisor's prose quotes names: it stays local, and the wire gets a sentence built from numbers.
    gain = recommendation.improvement_pct
    how = f" cuts their planner cost by {gain:g}%" if gain is not None else ""
    return (
        f"{recommendation.kind} ({recommendation.tier}): {statements} statement(s){how}. "
        "Names are pseudonyms (privacy mode); the agent's own log has the advisor's full rationale."
    )
