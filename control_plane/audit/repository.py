"""The tenant's audit trail: append-only (the runtime role may INSERT and SELECT, nothing else).

Events are written in the same transaction as the change they describe, so a change that rolls
back leaves no event behind, and a change that commits cannot lose its event. Never commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.models import AuditEvent
from control_plane.tenancy.context import TenantContext

MAX_LIST = 1000


class AuditRepository:
    def __init__(self, session: AsyncSession, context: TenantContext) -> None:
        self._session = session
        self._tenant_id = context.tenant_id

    async def record(
        self,
        actor: str,
        action: str,
        object: str,
        detail: Mapping[str, Any] | None = None,
        actor_user_id: uuid.UUID | None = None,
    ) -> AuditEvent:
        """`actor` is who did it ("user:<id>", "optischema-admin"), `object` what it was done to ("user:<id>")."""
        event = AuditEvent(
            tenant_id=self._tenant_id,
            id=uuid.uuid4(),
            actor=actor,
            actor_user_id=actor_user_id,
            action=action,
            object=object,
            detail=dict(detail or {}),
        )
        self._session.add(event)
        await self._session.flush()
        return event

    async def list(self, limit: int = 100) -> Sequence[AuditEvent]:
        """The newest events first."""
        rows = await self._session.scalars(
            select(AuditEvent)
            .where(AuditEvent.tenant_id == self._tenant_id)
            .order_by(AuditEvent.at.desc(), AuditEvent.id)
            .limit(max(1, min(limit, MAX_LIST)))
        )
        return rows.all()
