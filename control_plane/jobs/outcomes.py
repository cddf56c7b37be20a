"""What a finished job means for the rest of the product.

The queue itself only records answers; this is the one place that hands a finished job to the
domain that asked for it: simulations prove (or dismiss) analysis suggestions, apply and rollback
jobs move a recommendation along its lifecycle. It runs in the transaction that recorded the
answer, so the job's status and its consequences commit together.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.analysis.proof import record_simulation_outcome
from control_plane.changes.outcomes import record_change_outcome
from control_plane.models import AgentJob
from control_plane.tenancy.context import TenantContext


async def settle_job_outcome(session: AsyncSession, context: TenantContext, job: AgentJob) -> None:
    """`job` is finished (succeeded, failed or expired) and carries its stored result and error."""
    if job.kind in ("simulate_indexes", "judge_rewrite"):
        await record_simulation_outcome(session, context, job)
    elif job.kind in ("apply", "rollback"):
        await record_change_outcome(session, context, job)
