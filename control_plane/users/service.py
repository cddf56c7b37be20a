"""Users of a tenant: creation, role changes, disabling, password changes. Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.api.errors import BadRequest, Conflict, NotFound
from control_plane.audit.repository import AuditRepository
from control_plane.auth.passwords import hash_password, verify_password
from control_plane.auth.permissions import ensure_permission, permissions_of
from control_plane.auth.repository import RefreshTokenRepository
from control_plane.models import User
from control_plane.tenancy.context import TenantContext
from control_plane.users.repository import UserRepository


class UserService:
    def __init__(self, session: AsyncSession, context: TenantContext) -> None:
        self._session = session
        self._context = context
        self._users = UserRepository(session, context)
        self._audit = AuditRepository(session, context)

    @property
    def _actor(self) -> str:
        return f"user:{self._context.user_id}"

    async def me(self) -> User:
        assert self._context.user_id is not None
        user = await self._users.get(self._context.user_id)
        if user is None:
            raise NotFound("user not found")
        return user

    async def create(self, email: str, password: str, role: str) -> User:
        try:
            async with self._session.begin_nested():
                user = await self._users.create(
                    tenant_id=self._context.tenant_id,
                    email=email.strip().lower(),
                    password_hash=hash_password(password),
                    role=role,
                )
        except IntegrityError:
            raise Conflict("a user with this email already exists") from None
        await self._audit.record(
            actor=self._actor,
            action="user.create",
            object=f"user:{user.id}",
            detail={"email": user.email, "role": role},
            actor_user_id=self._context.user_id,
        )
        return user

    async def listing(self) -> Sequence[tuple[User, datetime | None]]:
        ensure_permission(self._context, "user.manage")
        return await self._users.list_with_last_sign_in()

    async def get(self, user_id: uuid.UUID) -> User:
        user = await self._users.get(user_id)
        if user is None:
            raise NotFound("user not found")
        return user

    async def change_role(self, user_id: uuid.UUID, role: str) -> User:
        user = await self.get(user_id)
        previous = user.role
        if _manages_users(previous) and not _manages_users(role) and await self._user_managers() <= 1:
            # A tenant where nobody manages users could never add one, rotate tokens or approve again.
            raise Conflict("this is the tenant's last admin: make another user admin first")
        await self._users.set_role(user_id, role)
        await self._audit.record(
            actor=self._actor,
            action="user.role_change",
            object=f"user:{user_id}",
            detail={"from": previous, "to": role},
            actor_user_id=self._context.user_id,
        )
        return await self.get(user_id)

    async def _user_managers(self) -> int:
        return sum(
            1 for user in await self._users.list() if _manages_users(user.role) and user.disabled_at is None
        )

    async def disable(self, user_id: uuid.UUID) -> None:
        if user_id == self._context.user_id:
            raise BadRequest("you cannot disable yourself")
        await self.get(user_id)
        await self._users.disable(user_id)
        await RefreshTokenRepository(self._session, self._context).revoke_for_user(user_id)
        await self._audit.record(
            actor=self._actor,
            action="user.disable",
            object=f"user:{user_id}",
            detail={},
            actor_user_id=self._context.user_id,
        )

    async def change_password(self, current: str, new: str) -> None:
        user = await self.me()
        if not verify_password(user.password_hash, current):
            raise BadRequest("the current password is wrong")
        await self._users.set_password(user.id, hash_password(new))
        await self._users.invalidate_tokens(user.id)
        await RefreshTokenRepository(self._session, self._context).revoke_for_user(user.id)
        await self._audit.record(
            actor=self._actor,
            action="user.password_change",
            object=f"user:{user.id}",
            detail={},
            actor_user_id=self._context.user_id,
        )


def _manages_users(role: str) -> bool:
    """Whether the role holds `user.manage` (the permission table says which roles do)."""
    return "user.manage" in permissions_of(role)
