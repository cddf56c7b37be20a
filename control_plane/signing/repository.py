"""The signing_keys table. Reads are plain SELECTs; writes go through the definer functions of 0003."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.models import SigningKey


class SigningKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def now(self) -> datetime:
        """The metadata database's clock: the one every replica and every lease agrees on."""
        found: datetime = await self._session.scalar(select(func.now()))  # type: ignore[assignment]
        return found

    async def active(self) -> SigningKey | None:
        return await self._session.scalar(select(SigningKey).where(SigningKey.status == "active"))

    async def published(self, retired_after: datetime) -> list[SigningKey]:
        """Active and next keys, and keys retired after `retired_after`, oldest first."""
        rows = await self._session.scalars(
            select(SigningKey)
            .where(
                or_(
                    SigningKey.status.in_(("active", "next")),
                    (SigningKey.status == "retired") & (SigningKey.retired_at > retired_after),
                )
            )
            .order_by(SigningKey.created_at, SigningKey.key_id)
        )
        return list(rows)

    async def add(
        self,
        key_id: str,
        public_key: bytes,
        private_key_encrypted: bytes,
        *,
        only_if_none_active: bool = False,
    ) -> str | None:
        """Adds a key: `active` when none is, otherwise `next`, or nothing with `only_if_none_active`.

        Returns the status the key has (also when it was there already), None when it was not added.
        """
        status = await self._session.scalar(
            text("SELECT optischema_add_signing_key(:key_id, :public, :private, :only_first)"),
            {
                "key_id": key_id,
                "public": public_key,
                "private": private_key_encrypted,
                "only_first": only_if_none_active,
            },
        )
        return None if status is None else str(status)

    async def activate_next(self, min_age: timedelta) -> str | None:
        """Makes `next` active (and active retired) once it is `min_age` old; its key id, or None."""
        activated = await self._session.scalar(
            text("SELECT optischema_activate_next_signing_key(:min_age)"), {"min_age": min_age}
        )
        return None if activated is None else str(activated)
