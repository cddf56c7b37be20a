"""Queueing the agent's simulation of an index or rewrite idea (see control_plane.analysis.proof).

Kept apart from `proof`: the job queue imports `proof` to settle finished jobs, and this module
imports the job queue to add them.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.analysis.proof import ProofIdea, index_ddl
from control_plane.analysis.suggestions_repository import SuggestionRepository
from control_plane.jobs.service import enqueue_job
from control_plane.models import AnalysisSuggestion
from control_plane.settings import Settings
from control_plane.tenancy.context import TenantContext
from shared.wire.jobs import CandidateIndexSpec, JudgeRewritePayload, SimulateIndexesPayload


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
