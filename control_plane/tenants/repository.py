"""Tenants: created only through `optischema_create_tenant`, since no tenant context can insert one.

`provision_tenant` is signup in one transaction: the tenant, its first admin, the admin's login email
and the audit events commit together or not at all (an email that is already taken must not
leave an empty tenant behind).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.audit.repository import AuditRepository
from control_plane.db.session import bind_new_tenant
from control_plane.models import Tenant
from control_plane.tenancy.context import TenantContext
from control_plane.users.repository import UserRepository


class TenantRepository:
    """Works in a `lookup_session` (create) or a `tenant_session` (get); never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def create(self, name: str) -> uuid.UUID:
        """The new tenant's id; a blank name is refused (DBAPIError, SQLSTATE 22023)."""
        tenant_id = await self._session.scalar(text("SELECT optischema_create_tenant(:name)"), {"name": name})
        if not isinstance(tenant_id, uuid.UUID):
            raise RuntimeError("optischema_create_tenant returned no id")
        return tenant_id

    async def get(self, context: TenantContext) -> Tenant | None:
        """The context's own tenant (row-level security shows no other)."""
        return await self._session.scalar(select(Tenant).where(Tenant.id == context.tenant_id))


@dataclass(frozen=True)
class ProvisionedTenant:
    tenant_id: uuid.UUID
    user_id: uuid.UUID


async def provision_tenant(
    session: AsyncSession, *, name: str, admin_email: str, admin_password_hash: str, actor: str
) -> ProvisionedTenant:
    """Creates a tenant with its first admin inside the caller's `lookup_session` (which it binds
    to the new tenant). Raises IntegrityError (SQLSTATE 23505) when the email is taken; the caller's
    transaction then rolls back, tenant included.
    """
    tenant_id = await TenantRepository(session).create(name)
    await bind_new_tenant(session, tenant_id)
    context = TenantContext(tenant_id=tenant_id, principal="system")
    user = await UserRepository(session, context).create(tenant_id, admin_email, admin_password_hash, "admin")
    audit = AuditRepository(session, context)
    await audit.record(actor, "tenant.create", f"tenant:{tenant_id}", {"name": name.strip()})
    await audit.record(actor, "user.create", f"user:{user.id}", {"email": user.email, "role": "admin"})
    return ProvisionedTenant(tenant_id=tenant_id, user_id=user.id)
