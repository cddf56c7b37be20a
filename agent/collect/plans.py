"""Generic plans: EXPLAIN (FORMAT JSON), never ANALYZE, of normalized statement text.

pg_stat_statements text has `$n` placeholders and no values, so the only honest plan is the
generic one. PostgreSQL 16+ explains such text directly (`GENERIC_PLAN`, over the simple query
protocol, after a check that the text is exactly one statement); before 16 the statement is
prepared and executed with NULLs under `plan_cache_mode = force_generic_plan`. Everything runs in a
read-only transaction that is rolled back, and DML is explained, never executed.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

import psycopg

from agent.db.session import AgentSession, lost_connection
from shared.sql.normalized_text import max_parameter_number, repair_normalized_text
from shared.sql.parameter_types import numeric_parameters, with_parameter_types
from shared.sql.statement_boundaries import NotOneStatement, single_statement

GENERIC_PLAN_OPTION_VERSION = 160000
_statement_names = itertools.count(1)


@dataclass(frozen=True)
class ExplainOutcome:
    plan: list[dict[str, Any]] | None
    error: str | None = None

    @property
    def total_cost(self) -> float:
        assert self.plan is not None
        return float(self.plan[0]["Plan"]["Total Cost"])


def _as_json(value: object) -> list[dict[str, Any]]:
    parsed = json.loads(value) if isinstance(value, str) else value
    assert isinstance(parsed, list)
    return parsed


def explain_generic(session: AgentSession, normalized_text: str, server_version_num: int) -> ExplainOutcome:
    """The generic plan of one statement, or the planner's reason why there is none."""
    text = repair_normalized_text(normalized_text).strip().rstrip(";")
    if server_version_num >= GENERIC_PLAN_OPTION_VERSION:
        try:
            statement = single_statement(text)
        except NotOneStatement as refusal:
            return ExplainOutcome(plan=None, error=str(refusal))
        outcome = _explain_generic_option(session, statement)
        numeric = numeric_parameters(statement) if outcome.plan is None else frozenset()
        if numeric:
            # As below: parameters with nothing to infer a type from were numbers.
            typed = with_parameter_types(statement, dict.fromkeys(numeric, "numeric"))
            retried = _explain_generic_option(session, typed)
            if retried.plan is not None:
                return retried
        return outcome
    outcome = _explain_prepared(session, text, declared={})
    if outcome.plan is None:
        # Normalized text can leave a parameter with nothing to infer its type from ($1 + $2,
        # CASE ... THEN $3 ELSE $4): those were numbers, so declare them and try once more.
        numeric = numeric_parameters(text)
        if numeric:
            retried = _explain_prepared(session, text, declared=dict.fromkeys(numeric, "numeric"))
            if retried.plan is not None:
                return retried
    return outcome


def _explain_generic_option(session: AgentSession, statement: str) -> ExplainOutcome:
    return _explain(session, [f"EXPLAIN (GENERIC_PLAN, FORMAT JSON) {statement}"], simple=True)[0]


def _explain_prepared(session: AgentSession, text: str, declared: dict[int, str]) -> ExplainOutcome:
    # A fresh name per call: a prepared statement caches its plan, and a hypothetical index
    # created since must be seen, so statements are never reused across calls.
    name = f"optischema_plan_{next(_statement_names)}"
    count = max_parameter_number(text)
    arguments = ", ".join(["NULL"] * count)
    execute = f"EXECUTE {name}({arguments})" if arguments else f"EXECUTE {name}"
    types = f"({', '.join(declared.get(n, 'unknown') for n in range(1, count + 1))})" if declared else ""
    outcome, completed = _explain(
        session,
        [
            "SET LOCAL plan_cache_mode = force_generic_plan",
            f"PREPARE {name}{types} AS {text}",
            f"EXPLAIN (FORMAT JSON) {execute}",
        ],
    )
    if completed >= 2:
        # PREPARE survives the rollback, so ours is deallocated afterwards, by name. Never
        # DEALLOCATE ALL: that would break a driver's own cached statements on a shared connection.
        session.execute_text(f"DEALLOCATE {name}")
    return outcome


def _explain(
    session: AgentSession, statements: list[str], *, simple: bool = False
) -> tuple[ExplainOutcome, int]:
    """Runs the statements in a rolled-back, read-only transaction; returns the plan and how many
    succeeded. `simple`: the last one (the EXPLAIN) goes over the simple query protocol.

    A lost connection is not the statement's fault: it is raised, for the session to report as
    DatabaseUnavailable, instead of being recorded as this statement's planning error.
    """
    completed = 0
    try:
        with session.rolled_back():
            # Nothing explained here may write, even if a parser somewhere misjudged the text. SET
            # LOCAL ends with this (sub)transaction, so the session stays writable for what is not
            # workload text. HypoPG would not mind either way: its hypothetical indexes live in the
            # backend's memory and hypopg_create_index works in a read-only transaction (1.3.1,
            # checked by hand), but it runs in the advisor's own transaction, before this one.
            session.execute_text("SET LOCAL transaction_read_only = on")
            rows: list[tuple[Any, ...]] = []
            for position, statement in enumerate(statements):
                last = position == len(statements) - 1
                rows = session.explain_text(statement) if simple and last else session.execute_text(statement)
                completed += 1
            return ExplainOutcome(plan=_as_json(rows[0][0])), completed
    except psycopg.Error as error:
        if lost_connection(session.connection, error):
            raise
        return ExplainOutcome(plan=None, error=_first_line(error)), completed


def _first_line(error: psycopg.Error) -> str:
    message = (error.diag.message_primary or str(error)).strip()
    return message.splitlines()[0] if message else type(error).__name__
