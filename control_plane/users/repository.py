"""Users of the context's tenant. Never commits: the transaction belongs to the caller.

Every statement filters on `tenant_id` itself, although row-level security filters again: the
explicit filter is what keeps a query correct (and index-friendly) if it ever runs under a role that
RLS does not bind, and RLS is what keeps a forgotten filter from leaking.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.models import AuditEvent, User
from control_plane.tenancy.context import TenantContext

# Access tokens carry whole seconds (`iat`); an instant with microseconds would refuse a token
# issued later in the same second, e.g. the one from signing in again right after a password change.
_NEXT_GENERATION = User.token_generation + 1


@dataclass(frozen=True)
class Standing:
    """What the auth dependency checks of a user on every request, and the role it acts with."""

    role: str
    token_generation: int
    disabled: bool


def normalize_email(email: str) -> str:
    """Emails are compared case-insensitively everywhere (login_emails stores them lower-cased)."""
    return email.strip().lower()


class UserRepository:
    def __init__(self, session: AsyncSession, context: TenantContext) -> None:
        self._session = session
        self._tenant_id = context.tenant_id

    def _mine(self, user_id: uuid.UUID) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
        return User.tenant_id == self._tenant_id, User.id == user_id

    async def create(self, tenant_id: uuid.UUID, email: str, password_hash: str, role: str) -> User:
        """Inserts the user and registers its login email in one go.

        Raises `sqlalchemy.exc.IntegrityError` (SQLSTATE 23505) when the email already belongs to
        any user of any tenant; wrap the call in `session.begin_nested()` to carry on after that.
        """
        if tenant_id != self._tenant_id:
            raise ValueError("a user can only be created in the context's own tenant")
        user = User(
            tenant_id=self._tenant_id,
            id=uuid.uuid4(),
            email=normalize_email(email),
            password_hash=password_hash,
            role=role,
        )
        self._session.add(user)
        await self._session.flush()
        await self.register_login_email(user.id, user.email)
        return user

    async def register_login_email(self, user_id: uuid.UUID, email: str) -> None:
        """Makes `email` sign in as this user (of the transaction's tenant, whatever is passed)."""
        await self._session.execute(
            text("SELECT optischema_register_login_email(:email, :user_id)"),
            {"email": normalize_email(email), "user_id": user_id},
        )

    async def forget_login_email(self, user_id: uuid.UUID) -> int:
        """Stops every email of this user from signing in; returns how many there were."""
        forgotten = await self._session.scalar(
            text("SELECT optischema_forget_login_email(:user_id)"), {"user_id": user_id}
        )
        return int(forgotten or 0)

    async def get(self, user_id: uuid.UUID) -> User | None:
        # By primary key (tenant first): a user this transaction has loaded already comes from the
        # session's identity map without a query.
        return await self._session.get(User, (self._tenant_id, user_id))

    async def standing(self, user_id: uuid.UUID) -> Standing | None:
        """The user's role, token generation and whether it is disabled: three columns, not the ORM
        entity, whose loading into the identity map cost the API up to ~0.5 ms of CPU more on every
        request (in-process, 2026-12-06; within that machine's spread)."""
        row = (
            await self._session.execute(
                select(User.role, User.token_generation, User.disabled_at.is_not(None)).where(
                    *self._mine(user_id)
                )
            )
        ).first()
        return None if row is None else Standing(row[0], row[1], row[2])

    async def get_by_email(self, email: str) -> User | None:
        return await self._session.scalar(
            select(User).where(User.tenant_id == self._tenant_id, User.email == normalize_email(email))
        )

    async def list(self) -> Sequence[User]:
        rows = await self._session.scalars(
            select(User).where(User.tenant_id == self._tenant_id).order_by(User.created_at, User.id)
        )
        return rows.all()

    async def list_with_last_sign_in(self) -> Sequence[tuple[User, datetime | None]]:
        """Every user of the tenant, oldest first, with their last successful sign-in from the audit
        log (`auth.login`, written by every sign-in; None when there is none). One statement: the
        tenant's sign-ins are grouped once, not looked up per user."""
        signed_in = (
            select(AuditEvent.actor_user_id, func.max(AuditEvent.at).label("last_login_at"))
            .where(AuditEvent.tenant_id == self._tenant_id, AuditEvent.action == "auth.login")
            .group_by(AuditEvent.actor_user_id)
            .subquery("signed_in")
        )
        rows = await self._session.execute(
            select(User, signed_in.c.last_login_at)
            .outerjoin(signed_in, signed_in.c.actor_user_id == User.id)
            .where(User.tenant_id == self._tenant_id)
            .order_by(User.created_at, User.id)
        )
        return [(user, last_login_at) for user, last_login_at in rows]

    async def _update(self, user_id: uuid.UUID, **values: Any) -> User | None:
        updated = await self._session.scalars(
            update(User)
            .where(*self._mine(user_id))
            .values(**values)
            .returning(User)
            .execution_options(populate_existing=True)
        )
        return updated.one_or_none()

    async def set_role(self, user_id: uuid.UUID, role: str) -> User | None:
        return await self._update(user_id, role=role)

    async def set_password(self, user_id: uuid.UUID, password_hash: str) -> User | None:
        """Stores a new hash; call `invalidate_tokens` too when the password (not the hashing) changed."""
        return await self._update(user_id, password_hash=password_hash)

    async def invalidate_tokens(self, user_id: uuid.UUID) -> User | None:
        """Every access token issued before now stops working (sign-out everywhere)."""
        return await self._update(user_id, token_generation=_NEXT_GENERATION)

    async def disable(self, user_id: uuid.UUID) -> User | None:
        return await self._update(user_id, disabled_at=func.now(), token_generation=_NEXT_GENERATION)

    async def enable(self, user_id: uuid.UUID) -> User | None:
        return await self._update(user_id, disabled_at=None)
