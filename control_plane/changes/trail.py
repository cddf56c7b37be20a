"""The audit record of a lifecycle move: who (a user or the agent of which database, at which
version), when (the event's time), what (the move and the recommendation), and its particulars."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.audit.repository import AuditRepository
from control_plane.changes.lifecycle import Transition
from control_plane.models import MonitoredDatabase, Recommendation
from control_plane.tenancy.context import TenantContext


async def record_move(
    session: AsyncSession,
    context: TenantContext,
    move: Transition,
    recommendation: Recommendation,
    detail: dict[str, Any] | None = None,
) -> None:
    about: dict[str, Any] = {
        "database_id": str(recommendation.database_id),
        "status": recommendation.status,
        "kind": recommendation.kind,
        "sql": recommendation.sql,
    }
    if context.principal == "agent":
        actor = f"agent:{context.database_id}"
        database = await session.get(MonitoredDatabase, (context.tenant_id, recommendation.database_id))
        about["agent_version"] = database.agent_version if database else None
    elif context.principal == "user":
        actor = f"user:{context.user_id}"
        about["role"] = context.role
    else:
        actor = "optischema"
    await AuditRepository(session, context).record(
        actor,
        move.action,
        f"recommendation:{recommendation.id}",
        {**about, **(detail or {})},
        actor_user_id=context.user_id if context.principal == "user" else None,
    )
