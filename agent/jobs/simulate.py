"""The `simulate_*` jobs: the control plane's ideas, checked with the advisor's own machinery.

Nothing here executes workload text: statements are only planned (generic plans, rolled back), and
candidate indexes exist only as HypoPG hypothetical indexes in this session, reset afterwards. The
statements are looked up by fingerprint among the texts the agent itself read from
pg_stat_statements, so a job can name a statement but never supply the SQL to plan for it.
"""

from __future__ import annotations

from collections.abc import Mapping

from agent.advise.candidate_index import CandidateIndex, is_expression_key
from agent.advise.hypothetical import HypotheticalIndexes, hypopg_schema
from agent.advise.plan_costs import plan_cost
from agent.advise.rewrite_judge import judge_rewrite
from agent.anonymize.error_text import scrub_error_message
from agent.db.session import AgentSession
from shared.sql.index_ddl import split_table_name
from shared.wire.jobs import (
    CandidateIndexSpec,
    IndexEstimate,
    JudgeRewritePayload,
    JudgeRewriteResult,
    SimulateIndexesPayload,
    SimulateIndexesResult,
    StatementCost,
)

NOT_IN_WORKLOAD = "the agent has not seen this statement in pg_stat_statements"


class SimulationUnavailable(Exception):
    """The job cannot run on this database at all (HypoPG missing, say)."""


def _scrubbed(error: str | None) -> str | None:
    return None if error is None else scrub_error_message(error)


def improvement_pct(before: float, after: float) -> float | None:
    return None if before <= 0 else round(100.0 * (before - after) / before, 1)


def _candidate(spec: CandidateIndexSpec, known_columns: Mapping[str, set[str]]) -> CandidateIndex | str:
    """The advisor's candidate for a spec, or why this agent will not simulate it."""
    if spec.using != "btree":
        return f"only btree candidates are simulated, not {spec.using}"
    if spec.where is not None:
        return "partial candidates are not simulated by this agent version"
    schema_name, table = split_table_name(spec.table)
    columns = known_columns.get(spec.table)
    if columns is None:
        return f"table {spec.table} does not exist"
    for key in spec.columns:
        if is_expression_key(key):
            if ";" in key:
                return f"expression key {key!r} is not a single expression"
        elif key not in columns:
            return f"column {key!r} does not exist in {spec.table}"
    return CandidateIndex(schema_name, table, tuple(spec.columns))


def simulate_indexes(
    session: AgentSession,
    payload: SimulateIndexesPayload,
    statement_texts: Mapping[str, str],
    known_columns: Mapping[str, set[str]],
    server_version_num: int,
) -> SimulateIndexesResult:
    """Generic-plan cost of each statement without and with every candidate at once."""
    schema = hypopg_schema(session)
    if schema is None:
        raise SimulationUnavailable("hypopg is not installed in this database: CREATE EXTENSION hypopg")
    costs: dict[str, StatementCost] = {}
    for fingerprint in dict.fromkeys(payload.fingerprints):
        text = statement_texts.get(fingerprint)
        if text is None:
            costs[fingerprint] = StatementCost(fingerprint=fingerprint, error=NOT_IN_WORKLOAD)
            continue
        before = plan_cost(session, text, server_version_num)
        costs[fingerprint] = StatementCost(
            fingerprint=fingerprint, cost_before=before.cost, error=_scrubbed(before.error)
        )

    estimates: list[IndexEstimate] = []
    with HypotheticalIndexes(session, schema) as hypothetical:
        for spec in payload.candidates:
            candidate = _candidate(spec, known_columns)
            created = candidate if isinstance(candidate, str) else hypothetical.create(candidate)
            if isinstance(created, str):
                estimates.append(IndexEstimate(**spec.model_dump(), error=scrub_error_message(created)))
            else:
                size = hypothetical.estimated_size(created)
                estimates.append(IndexEstimate(**spec.model_dump(), size_bytes=size))
        for fingerprint, cost in costs.items():
            if cost.cost_before is None:
                continue
            after = plan_cost(session, statement_texts[fingerprint], server_version_num)
            costs[fingerprint] = cost.model_copy(
                update={"cost_after": after.cost, "error": _scrubbed(after.error)}
            )

    compared = [c for c in costs.values() if c.cost_before is not None and c.cost_after is not None]
    total_before = sum(c.cost_before or 0.0 for c in compared)
    total_after = sum(c.cost_after or 0.0 for c in compared)
    return SimulateIndexesResult(
        statements=list(costs.values()),
        improvement_pct=improvement_pct(total_before, total_after) if compared else None,
        indexes=estimates,
    )


def judge_rewrite_job(
    session: AgentSession,
    payload: JudgeRewritePayload,
    statement_texts: Mapping[str, str],
    server_version_num: int,
) -> JudgeRewriteResult:
    original = statement_texts.get(payload.fingerprint)
    if original is None:
        return JudgeRewriteResult(fingerprint=payload.fingerprint, error=NOT_IN_WORKLOAD)
    verdict = judge_rewrite(session, original, payload.rewritten_sql, server_version_num)
    return JudgeRewriteResult(
        fingerprint=payload.fingerprint,
        accepted=verdict.accepted,
        cost_before=verdict.cost_before,
        cost_after=verdict.cost_after,
        improvement_pct=verdict.improvement_pct,
        # A refusal can quote PostgreSQL's error about the plan; an accepted verdict is only costs.
        reason=verdict.reason if verdict.accepted else scrub_error_message(verdict.reason),
    )
