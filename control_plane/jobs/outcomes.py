"""What a finished job means for the rest of the product.

The queue itself only records answers; this hands a finished job to the handler its kind's domain
registered (control_plane.jobs.handlers): simulations prove (or dismiss) analysis suggestions,
apply and rollback jobs move a recommendation along its lifecycle. It runs in the transaction that
recorded the answer, so the job's status and its consequences commit together.
"""

from __future__ import annotations

import logging

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.jobs.handlers import JobKinds, UnknownJobKind, job_kinds
from control_plane.models import AgentJob
from control_plane.tenancy.context import TenantContext
from shared.wire.base import WireModel

log = logging.getLogger(__name__)


async def settle_job_outcome(
    session: AsyncSession, context: TenantContext, job: AgentJob, kinds: JobKinds = job_kinds
) -> None:
    """`job` is finished (succeeded, failed or expired) and carries its stored result and error."""
    try:
        handler = kinds.handler_for(job.kind)
    except UnknownJobKind as error:
        # Only a row this version never queued (enqueue refuses such kinds) gets here, when it
        # expires: its own status is recorded, and no domain of ours waits for it.
        log.warning("job %s settled without consequences: %s", job.id, error)
        return
    result: WireModel | None = None
    if job.status == "succeeded":
        try:
            result = handler.result_model.model_validate(job.result or {})
        except ValidationError:
            # Stored before its kind's result model was checked (or the model has since changed):
            # the handler judges the raw row, as it always has.
            result = None
    await handler.on_settled(session, context, job, result)
