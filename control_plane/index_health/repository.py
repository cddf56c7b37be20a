"""Reads for index health: the latest snapshot's indexes and the drop_index recommendations. Every
statement is tenant-scoped (and RLS filters again)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.models import DatabaseSchema, Recommendation
from control_plane.tenancy.context import TenantContext
from shared.wire.snapshot import IndexStats


class IndexHealthRepository:
    def __init__(self, session: AsyncSession, context: TenantContext, database_id: uuid.UUID) -> None:
        self._session = session
        self._tenant_id = context.tenant_id
        self._database_id = database_id

    async def latest_indexes(self) -> list[IndexStats]:
        stored = await self._session.scalar(
            select(DatabaseSchema.indexes).where(
                DatabaseSchema.tenant_id == self._tenant_id, DatabaseSchema.database_id == self._database_id
            )
        )
        return [IndexStats.model_validate(index) for index in stored or []]

    async def drops(self, stable_keys: Sequence[str]) -> dict[str, Recommendation]:
        """The drop_index recommendations with these stable keys, whoever found them."""
        if not stable_keys:
            return {}
        rows = await self._session.scalars(
            select(Recommendation).where(
                Recommendation.tenant_id == self._tenant_id,
                Recommendation.database_id == self._database_id,
                Recommendation.kind == "drop_index",
                Recommendation.stable_key.in_(tuple(stable_keys)),
            )
        )
        return {row.stable_key: row for row in rows}
