"""Refresh tokens of the caller's tenant: created, rotated, revoked. Never committed here."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.models import RefreshToken
from control_plane.tenancy.context import TenantContext


class RefreshTokenRepository:
    def __init__(self, session: AsyncSession, context: TenantContext) -> None:
        self._session = session
        self._tenant_id = context.tenant_id

    async def create(
        self, *, user_id: uuid.UUID, family_id: uuid.UUID, digest: bytes, expires_at: datetime
    ) -> None:
        self._session.add(
            RefreshToken(
                tenant_id=self._tenant_id,
                id=uuid.uuid4(),
                user_id=user_id,
                family_id=family_id,
                token_hmac=digest,
                expires_at=expires_at,
            )
        )
        await self._session.flush()

    async def mark_rotated(self, token_id: uuid.UUID) -> bool:
        """True for exactly one caller: a concurrent second use of the same token is a reuse."""
        result = await self._session.execute(
            update(RefreshToken)
            .where(
                RefreshToken.tenant_id == self._tenant_id,
                RefreshToken.id == token_id,
                RefreshToken.rotated_at.is_(None),
                RefreshToken.revoked_at.is_(None),
            )
            .values(rotated_at=func.now())
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def revoke_family(self, family_id: uuid.UUID) -> None:
        await self._session.execute(
            update(RefreshToken)
            .where(RefreshToken.tenant_id == self._tenant_id, RefreshToken.family_id == family_id)
            .values(revoked_at=func.now())
        )

    async def revoke_for_user(self, user_id: uuid.UUID) -> None:
        await self._session.execute(
            update(RefreshToken)
            .where(
                RefreshToken.tenant_id == self._tenant_id,
                RefreshToken.user_id == user_id,
                RefreshToken.revoked_at.is_(None),
            )
            .values(revoked_at=func.now())
        )
