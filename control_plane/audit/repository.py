"""The tenant's audit trail: append-only (the runtime role may INSERT and SELECT, nothing else).

Events are written in the same transaction as the change they describe, so a change that rolls
back leaves no event behind, and a change that commits cannot lose its event. Never commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.audit.schemas import AuditFilter
from control_plane.models import AuditEvent, MonitoredDatabase, User
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

    async def filtered(self, wanted: AuditFilter, actors: Sequence[str] | None) -> Sequence[AuditEvent]:
        """The newest events first that match `wanted`; `actors` (when given) are the actor ids."""
        query = select(AuditEvent).where(AuditEvent.tenant_id == self._tenant_id)
        if actors is not None:
            query = query.where(AuditEvent.actor.in_(tuple(actors)))
        if wanted.action is not None:
            query = query.where(AuditEvent.action == wanted.action)
        if wanted.object is not None:
            if wanted.object.endswith(":"):
                query = query.where(func.starts_with(AuditEvent.object, wanted.object))
            else:
                query = query.where(AuditEvent.object == wanted.object)
        if wanted.since is not None:
            query = query.where(AuditEvent.at >= wanted.since)
        if wanted.until is not None:
            query = query.where(AuditEvent.at < wanted.until)
        rows = await self._session.scalars(
            query.order_by(AuditEvent.at.desc(), AuditEvent.id)
            .offset(max(0, wanted.offset))
            .limit(max(1, min(wanted.limit, MAX_LIST)))
        )
        return rows.all()

    async def of_object(self, object: str) -> Sequence[AuditEvent]:
        """Every event about one object, oldest first (a recommendation's timeline: no paging, a
        recommendation goes through a dozen moves at most)."""
        rows = await self._session.scalars(
            select(AuditEvent)
            .where(AuditEvent.tenant_id == self._tenant_id, AuditEvent.object == object)
            .order_by(AuditEvent.at, AuditEvent.id)
        )
        return rows.all()

    async def user_ids_with_email(self, email: str) -> Sequence[uuid.UUID]:
        rows = await self._session.scalars(
            select(User.id).where(User.tenant_id == self._tenant_id, func.lower(User.email) == email.lower())
        )
        return rows.all()

    async def user_emails(self, user_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
        if not user_ids:
            return {}
        rows = await self._session.execute(
            select(User.id, User.email).where(User.tenant_id == self._tenant_id, User.id.in_(tuple(user_ids)))
        )
        return {row[0]: row[1] for row in rows}

    async def database_names(self, database_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
        if not database_ids:
            return {}
        rows = await self._session.execute(
            select(MonitoredDatabase.id, MonitoredDatabase.name).where(
                MonitoredDatabase.tenant_id == self._tenant_id, MonitoredDatabase.id.in_(tuple(database_ids))
            )
        )
        return {row[0]: row[1] for row in rows}
