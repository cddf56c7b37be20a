"""Moves a recommendation along its lifecycle when the agent takes or finishes its apply or
rollback job (issue 7).

Called by control_plane.jobs in the transaction that leased or settled the job, so the job's status
and the recommendation's commit together. A job that is not the recommendation's current one (an
older apply, superseded by a re-approval) moves nothing. Expired and lease-exhausted jobs arrive
here too (settle_stale), so a recommendation never stays `approved` or `applying` forever.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.changes.lifecycle import (
    APPLIED,
    APPLY_FAILED,
    ROLLBACK_FAILED,
    ROLLED_BACK,
    START_APPLY,
)
from control_plane.changes.repository import ChangeRepository
from control_plane.changes.supersede import reopen_superseded, supersede_overlapping
from control_plane.changes.trail import record_move
from control_plane.models import AgentJob, Recommendation
from control_plane.notifications.schemas import Event
from control_plane.notifications.service import notify
from control_plane.tenancy.context import TenantContext
from shared.wire.jobs import ChangeResult


async def record_change_leased(
    session: AsyncSession, context: TenantContext, jobs: Sequence[AgentJob]
) -> None:
    """An apply job handed to the agent: its recommendation is now `applying`."""
    changes = ChangeRepository(session, context)
    for job in jobs:
        if job.kind != "apply" or job.recommendation_id is None:
            continue
        moved = await changes.transition(
            job.recommendation_id, START_APPLY, where=[Recommendation.change_job_id == job.id]
        )
        if moved is not None:
            await record_move(
                session, context, START_APPLY, moved, {"job_id": str(job.id), "attempt": job.attempts}
            )


def _result(job: AgentJob) -> ChangeResult | None:
    try:
        return ChangeResult.model_validate(job.result or {})
    except ValidationError:
        return None


def _job_detail(job: AgentJob) -> dict[str, Any]:
    detail: dict[str, Any] = {"job_id": str(job.id), "job_status": job.status, "attempts": job.attempts}
    if job.error is not None:
        detail["error"] = job.error
    result = _result(job) if job.status == "succeeded" else None
    if result is not None:
        detail |= result.model_dump(mode="json", exclude={"finished_at"})
    return detail


async def record_change_outcome(session: AsyncSession, context: TenantContext, job: AgentJob) -> None:
    """`job` (apply or rollback) is finished: succeeded, failed, or expired."""
    if job.recommendation_id is None:
        return
    changes = ChangeRepository(session, context)
    detail = _job_detail(job)
    succeeded = job.status == "succeeded"
    event: Event
    if job.kind == "apply":
        mine = [Recommendation.change_job_id == job.id]
        if succeeded:
            now = await changes.now()
            result = _result(job)
            # When the index took effect: the agent's finish, never later than now (clock skew).
            finished: datetime = min(result.finished_at, now) if result is not None else now
            moved = await changes.transition(
                job.recommendation_id,
                APPLIED,
                where=mine,
                values={"applied_at": finished, "status_reason": None},
            )
            move, event = APPLIED, "recommendation.applied"
        else:
            moved = await changes.transition(
                job.recommendation_id, APPLY_FAILED, where=mine, values={"status_reason": job.error}
            )
            move, event = APPLY_FAILED, "recommendation.apply_failed"
    else:
        mine = [Recommendation.rollback_job_id == job.id]
        if succeeded:
            moved = await changes.transition(
                job.recommendation_id, ROLLED_BACK, where=mine, values={"status_reason": None}
            )
            move, event = ROLLED_BACK, "recommendation.rolled_back"
        else:
            moved = await changes.transition(
                job.recommendation_id,
                ROLLBACK_FAILED,
                where=mine,
                values={"rollback_job_id": None, "status_reason": f"rollback failed: {job.error}"},
            )
            move, event = ROLLBACK_FAILED, "recommendation.rollback_failed"
    if moved is None:
        return
    await record_move(session, context, move, moved, detail)
    if move is APPLIED:
        await supersede_overlapping(session, context, moved)
    elif move is ROLLED_BACK:
        await reopen_superseded(session, context, moved)
    await notify(session, context, event, [moved], dedupe=str(job.id), detail=detail)
