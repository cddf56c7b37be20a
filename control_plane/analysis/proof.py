"""Proof: every index or rewrite idea goes to the agent as a simulation; its answer sets the tier.

`queue_proof` stores the idea as a pending suggestion and queues its `simulate_indexes` or
`judge_rewrite` job. `record_simulation_outcome` runs in the transaction that records the agent's
answer (the handlers `register_simulation_jobs` gives the job queue at start-up): a cost cut of at least the suggestion's threshold makes
it a recommendation, `verified` with HypoPG's costs for an index, `estimated` for a rewrite; any
other answer leaves it `dismissed` (or `failed`) as evidence only, never shown as an improvement.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar, Literal

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.analysis.suggestions_repository import SuggestionRepository
from control_plane.jobs.handlers import JobKindHandler, JobKinds
from control_plane.jobs.service import enqueue_job
from control_plane.models import AgentJob, AnalysisSuggestion
from control_plane.notifications.service import notify_recommendation_ready
from control_plane.recommendations.repository import RecommendationRepository
from control_plane.settings import Settings
from control_plane.tenancy.context import TenantContext
from shared.sql.index_ddl import IndexDefinition
from shared.wire.base import WireModel
from shared.wire.jobs import (
    CandidateIndexSpec,
    JudgeRewritePayload,
    JudgeRewriteResult,
    SimulateIndexesPayload,
    SimulateIndexesResult,
)


@dataclass(frozen=True)
class ProofIdea:
    source: Literal["rules", "llm"]
    kind: Literal["create_index", "rewrite"]
    fingerprint: str
    rationale: str
    evidence: dict[str, Any] = field(default_factory=dict)  # query text and calls, for the recommendation
    table: str | None = None
    columns: tuple[str, ...] = ()
    sql: str | None = None  # the rewrite
    confidence: float | None = None
    risk: str | None = None


def index_definition(table: str, columns: tuple[str, ...]) -> IndexDefinition:
    """The index an idea names: `table` is the snapshot's `schema.table`, case and all."""
    return IndexDefinition.on_table(table, columns)


def index_ddl(table: str, columns: tuple[str, ...]) -> tuple[str, str]:
    """The CREATE INDEX CONCURRENTLY of an index idea and its rollback: the very text the agent's
    advisor writes for the same table and columns (both come from shared.sql.index_ddl)."""
    index = index_definition(table, columns)
    return index.create_sql(), index.rollback_sql()


def stable_key(
    source: str, kind: str, fingerprint: str, table: str | None, columns: tuple[str, ...], sql: str
) -> str:
    """The recommendation's key: the same index (or the same rewrite of a statement) is one row."""
    if kind == "create_index":
        return f"{source}:create_index:{table}({','.join(columns)})"
    digest = hashlib.sha256(sql.encode()).hexdigest()[:16]
    return f"{source}:rewrite:{fingerprint}:{digest}"


@dataclass(frozen=True)
class Verdict:
    status: Literal["verified", "estimated", "dismissed", "failed"]
    reason: str
    cost_before: float | None = None
    cost_after: float | None = None
    improvement_pct: float | None = None


def improvement(before: float | None, after: float | None) -> float | None:
    if before is None or after is None or before <= 0:
        return None
    return round(100.0 * (before - after) / before, 1)


def _judged(
    suggestion: AnalysisSuggestion, before: float | None, after: float | None, proven: str
) -> Verdict:
    cut = improvement(before, after)
    if cut is None:
        return Verdict("dismissed", "the agent could not cost the statement before and after", before, after)
    if cut < suggestion.min_improvement_pct:
        return Verdict(
            "dismissed",
            f"cost {before:,.1f} -> {after:,.1f} ({cut:+.1f}% cut): below the {suggestion.min_improvement_pct:g}% "
            "needed, so not an improvement",
            before,
            after,
            cut,
        )
    return Verdict(proven, f"cost {before:,.1f} -> {after:,.1f} (-{cut:.1f}%)", before, after, cut)  # type: ignore[arg-type]


def verdict_of(suggestion: AnalysisSuggestion, job: AgentJob) -> Verdict:
    if job.status != "succeeded":
        return Verdict("failed", job.error or f"the simulation job {job.status}")
    try:
        if job.kind == "simulate_indexes":
            result = SimulateIndexesResult.model_validate(job.result or {})
            errors = [index.error for index in result.indexes if index.error]
            if errors:
                return Verdict("dismissed", f"HypoPG could not create the index: {errors[0]}")
            cost = next((c for c in result.statements if c.fingerprint == suggestion.fingerprint), None)
            if cost is None or cost.error:
                return Verdict(
                    "dismissed", cost.error if cost and cost.error else "the statement was not costed"
                )
            return _judged(suggestion, cost.cost_before, cost.cost_after, "verified")
        judged = JudgeRewriteResult.model_validate(job.result or {})
    except ValidationError:
        return Verdict("failed", "the agent's answer is not a simulation result")
    if judged.error or not judged.accepted:
        return Verdict(
            "dismissed",
            judged.error or judged.reason or "the judge refused the rewrite",
            judged.cost_before,
            judged.cost_after,
        )
    return _judged(suggestion, judged.cost_before, judged.cost_after, "estimated")


def recommendation_row(suggestion: AnalysisSuggestion, verdict: Verdict) -> dict[str, Any]:
    evidence = {
        "fingerprint": suggestion.fingerprint,
        "query": suggestion.evidence.get("query", ""),
        "calls": int(suggestion.evidence.get("calls", 0)),
        "cost_before": verdict.cost_before,
        "cost_after": verdict.cost_after,
    }
    if suggestion.kind == "create_index":
        proof = f" HypoPG, as the agent simulated it: {verdict.reason}."
    else:
        proof = (
            f" The planner's estimate for the rewrite: {verdict.reason}. Estimated, never executed: confirm it "
            "returns the same rows before it replaces the original."
        )
    return {
        "stable_key": stable_key(
            suggestion.source,
            suggestion.kind,
            suggestion.fingerprint,
            suggestion.table_name,
            tuple(suggestion.columns),
            suggestion.sql,
        ),
        "kind": suggestion.kind,
        "tier": verdict.status,
        "sql": suggestion.sql,
        "rollback_sql": suggestion.rollback_sql,
        "table_name": suggestion.table_name,
        "columns": list(suggestion.columns),
        "improvement_pct": verdict.improvement_pct,
        "rationale": suggestion.rationale.strip() + proof,
        "evidence": [evidence],
        "fingerprints": [suggestion.fingerprint],
    }


async def record_simulation_outcome(session: AsyncSession, context: TenantContext, job: AgentJob) -> None:
    """Settles the suggestion the finished job proves; a simulation nobody's suggestion waits for
    (a person's own, through the API) needs nothing more."""
    suggestions = SuggestionRepository(session, context)
    suggestion = await suggestions.waiting_for(job.id)
    if suggestion is None:
        return
    verdict = verdict_of(suggestion, job)
    recommendation_id = None
    if verdict.status in ("verified", "estimated"):
        row = recommendation_row(suggestion, verdict)
        stored = await RecommendationRepository(session, context).upsert(
            suggestion.database_id, suggestion.source, [row]
        )
        # Announced only now that the agent has proven it: an unproven idea is never news.
        await notify_recommendation_ready(session, context, stored)
        recommendation_id = await suggestions.recommendation_id(suggestion.database_id, row["stable_key"])
    await suggestions.settle(
        suggestion.id,
        status=verdict.status,
        reason=verdict.reason,
        cost_before=verdict.cost_before,
        cost_after=verdict.cost_after,
        improvement_pct=verdict.improvement_pct,
        recommendation_id=recommendation_id,
    )


async def queue_proof(
    session: AsyncSession,
    context: TenantContext,
    settings: Settings,
    database_id: uuid.UUID,
    run_id: uuid.UUID,
    idea: ProofIdea,
) -> AnalysisSuggestion:
    """Stores the idea as pending and queues the agent's simulation of it."""
    if idea.kind == "create_index":
        assert idea.table is not None and idea.columns
        sql, rollback = index_ddl(idea.table, idea.columns)
        payload: SimulateIndexesPayload | JudgeRewritePayload = SimulateIndexesPayload(
            candidates=[CandidateIndexSpec(table=idea.table, columns=list(idea.columns))],
            fingerprints=[idea.fingerprint],
        )
    else:
        assert idea.sql is not None
        sql, rollback = idea.sql, None
        payload = JudgeRewritePayload(fingerprint=idea.fingerprint, rewritten_sql=idea.sql)
    suggestions = SuggestionRepository(session, context)
    suggestion = await suggestions.add(
        database_id,
        run_id,
        fingerprint=idea.fingerprint,
        source=idea.source,
        kind=idea.kind,
        table_name=idea.table,
        columns=list(idea.columns),
        sql=sql,
        rollback_sql=rollback,
        rationale=idea.rationale,
        confidence=idea.confidence,
        risk=idea.risk,
        min_improvement_pct=settings.analysis_min_improvement_pct,
        evidence=idea.evidence,
        status="pending",
    )
    job = await enqueue_job(
        session,
        context,
        database_id,
        "simulate_indexes" if idea.kind == "create_index" else "judge_rewrite",
        payload,
        expires_in=timedelta(seconds=settings.job_expiry_s),
        max_attempts=settings.job_max_attempts,
    )
    await suggestions.attach_job(suggestion.id, job.id)
    return suggestion


class SimulateIndexesHandler(JobKindHandler):
    """HypoPG's cost of candidate indexes; a person's own simulation (the API) settles nothing more."""

    kind = "simulate_indexes"
    payload_model: ClassVar[type[WireModel]] = SimulateIndexesPayload
    result_model: ClassVar[type[WireModel]] = SimulateIndexesResult

    async def on_settled(
        self, session: AsyncSession, context: TenantContext, job: AgentJob, result: WireModel | None
    ) -> None:
        await record_simulation_outcome(session, context, job)


class JudgeRewriteHandler(SimulateIndexesHandler):
    """The planner's estimate of a rewrite, judged by the agent."""

    kind = "judge_rewrite"
    payload_model = JudgeRewritePayload
    result_model = JudgeRewriteResult


def register_simulation_jobs(kinds: JobKinds) -> None:
    kinds.register(SimulateIndexesHandler())
    kinds.register(JudgeRewriteHandler())
