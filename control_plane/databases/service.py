"""Registering monitored databases and handing out their agent tokens (shown once, stored as HMAC).

Another tenant's database is a 404 before any role is checked."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.api.errors import NotFound
from control_plane.audit.repository import AuditRepository
from control_plane.auth.opaque_tokens import AGENT_TOKEN_PREFIX, generate_token, token_hmac
from control_plane.auth.permissions import ensure_permission
from control_plane.databases.repository import DatabaseRepository
from control_plane.models import MonitoredDatabase
from control_plane.tenancy.context import TenantContext


async def tenant_database(
    session: AsyncSession, context: TenantContext, database_id: uuid.UUID
) -> MonitoredDatabase:
    """The caller's tenant's database: another tenant's, like an unknown one, is a 404."""
    database = await DatabaseRepository(session, context).get(database_id)
    if database is None:
        raise NotFound("database not found")
    return database


class DatabaseService:
    def __init__(self, session: AsyncSession, context: TenantContext, secret_key: str) -> None:
        self._session = session
        self._context = context
        self._secret_key = secret_key
        self._databases = DatabaseRepository(session, context)
        self._audit = AuditRepository(session, context)

    async def _record(self, action: str, database_id: uuid.UUID, detail: dict[str, object]) -> None:
        await self._audit.record(
            actor=f"user:{self._context.user_id}",
            action=action,
            object=f"database:{database_id}",
            detail=detail,
            actor_user_id=self._context.user_id,
        )

    async def _new_token(self, database_id: uuid.UUID) -> str:
        token = generate_token(AGENT_TOKEN_PREFIX)
        stored = await self._databases.add_agent_token(database_id, token_hmac(self._secret_key, token))
        await self._record("agent_token.create", database_id, {"token_id": str(stored.id)})
        return token

    async def create(self, name: str) -> tuple[MonitoredDatabase, str]:
        database = await self._databases.create(name)
        await self._record("database.create", database.id, {"name": name})
        return database, await self._new_token(database.id)

    async def list(self) -> list[MonitoredDatabase]:
        return await self._databases.list()

    async def delete(self, database_id: uuid.UUID) -> None:
        database = await tenant_database(self._session, self._context, database_id)
        ensure_permission(self._context, "database.delete")
        await self._databases.delete(database_id)
        await self._record("database.delete", database_id, {"name": database.name})

    async def rotate_agent_token(self, database_id: uuid.UUID) -> str:
        await tenant_database(self._session, self._context, database_id)
        ensure_permission(self._context, "agent_token.rotate")
        revoked = await self._databases.revoke_agent_tokens(database_id)
        if revoked:
            await self._record("agent_token.revoke", database_id, {"revoked": revoked})
        return await self._new_token(database_id)
