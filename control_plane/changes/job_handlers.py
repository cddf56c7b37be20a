"""The apply and rollback job kinds, as the changes domain registers them with the job queue."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.changes.lifecycle import CHANGE_JOB_KINDS
from control_plane.changes.maintenance_window import change_window_open
from control_plane.changes.outcomes import record_change_leased, record_change_outcome
from control_plane.jobs.handlers import JobKindHandler, JobKinds
from control_plane.models import AgentJob
from control_plane.tenancy.context import TenantContext
from shared.sql.ddl_allow_list import admit_ddl
from shared.wire.base import WireModel
from shared.wire.jobs import ChangePayload, ChangeResult


class ChangeJobHandler(JobKindHandler):
    payload_model: ClassVar[type[WireModel]] = ChangePayload
    result_model: ClassVar[type[WireModel]] = ChangeResult
    held_by_maintenance_window = True

    def admit(self, payload: WireModel) -> None:
        # The agent runs only what its allow-list admits: nothing else is ever queued. The changes
        # service refuses first with a 409 and the reason; this stops any other caller (DdlRefused).
        assert isinstance(payload, ChangePayload)
        admit_ddl(payload.sql)

    async def on_leased(
        self, session: AsyncSession, context: TenantContext, jobs: Sequence[AgentJob]
    ) -> None:
        await record_change_leased(session, context, jobs)

    async def on_settled(
        self, session: AsyncSession, context: TenantContext, job: AgentJob, result: WireModel | None
    ) -> None:
        await record_change_outcome(session, context, job)


class ApplyJobHandler(ChangeJobHandler):
    kind = "apply"


class RollbackJobHandler(ChangeJobHandler):
    kind = "rollback"


def register_change_jobs(kinds: JobKinds) -> None:
    handlers: tuple[ChangeJobHandler, ...] = (ApplyJobHandler(), RollbackJobHandler())
    assert tuple(handler.kind for handler in handlers) == CHANGE_JOB_KINDS
    for handler in handlers:
        kinds.register(handler)
    kinds.register_window(change_window_open)
