"""The audit log as people read it: emails for people, names for databases, filters and paging.

Events store ids (`user:<id>`, `database:<id>`, and `database_id` in a recommendation's detail); the
names are looked up at read time, tenant-scoped, in one query per kind for the whole page.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.audit.repository import AuditRepository
from control_plane.audit.schemas import AuditEntry, AuditFilter
from control_plane.models import AuditEvent
from control_plane.tenancy.context import TenantContext


def _id_after(prefix: str, text: str | None) -> uuid.UUID | None:
    if not text or not text.startswith(prefix):
        return None
    try:
        return uuid.UUID(text.removeprefix(prefix))
    except ValueError:
        return None


def _database_of(event: AuditEvent) -> uuid.UUID | None:
    raw = event.detail.get("database_id") if isinstance(event.detail, dict) else None
    return (
        _id_after("database:", event.object)
        or _id_after("agent:", event.actor)
        or (_id_after("", raw) if isinstance(raw, str) else None)
    )


class AuditService:
    def __init__(self, session: AsyncSession, context: TenantContext) -> None:
        self._audit = AuditRepository(session, context)

    async def entries(self, wanted: AuditFilter) -> list[AuditEntry]:
        actors: list[str] | None = None
        if wanted.actor is not None:
            actors = [wanted.actor]
            if "@" in wanted.actor:  # an email: the user ids that carry it in this tenant
                actors = [
                    f"user:{user_id}" for user_id in await self._audit.user_ids_with_email(wanted.actor)
                ]
        events = await self._audit.filtered(wanted, actors)
        return await self._named(events)

    async def _named(self, events: Sequence[AuditEvent]) -> list[AuditEntry]:
        user_ids = {
            found
            for event in events
            for found in (_id_after("user:", event.actor), _id_after("user:", event.object))
            if found is not None
        }
        database_ids = {found for event in events if (found := _database_of(event)) is not None}
        emails = await self._audit.user_emails(user_ids)
        names = await self._audit.database_names(database_ids)
        entries = []
        for event in events:
            database_id = _database_of(event)
            actor_id, object_id = _id_after("user:", event.actor), _id_after("user:", event.object)
            kept_name = event.detail.get("name") if event.object.startswith("database:") else None
            entries.append(
                AuditEntry(
                    at=event.at,
                    actor=event.actor,
                    action=event.action,
                    object=event.object,
                    detail=event.detail,
                    actor_email=emails.get(actor_id) if actor_id else None,
                    object_email=emails.get(object_id) if object_id else None,
                    database_id=database_id,
                    database_name=(names.get(database_id) if database_id else None) or kept_name,
                )
            )
        return entries
