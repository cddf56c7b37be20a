"""Turns the agent's simulation results into tiers for analysis suggestions (issue 6, in progress)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.models import AgentJob
from control_plane.tenancy.context import TenantContext


async def record_simulation_outcome(session: AsyncSession, context: TenantContext, job: AgentJob) -> None:
    """A simulation that no analysis suggestion waits for (a person's own) needs nothing more."""
    return None
