"""Monitored databases and agent tokens of the caller's tenant. Every statement is tenant-scoped."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.models import (
    AgentToken,
    MonitoredDatabase,
    StatementDailyRollup,
    StatementRollup,
    StatementStat,
)
from control_plane.tenancy.context import TenantContext


class DatabaseRepository:
    def __init__(self, session: AsyncSession, context: TenantContext) -> None:
        self._session = session
        self._tenant_id = context.tenant_id

    async def create(self, name: str) -> MonitoredDatabase:
        database = MonitoredDatabase(tenant_id=self._tenant_id, id=uuid.uuid4(), name=name)
        self._session.add(database)
        await self._session.flush()
        return database

    async def get(self, database_id: uuid.UUID) -> MonitoredDatabase | None:
        return await self._session.scalar(
            select(MonitoredDatabase).where(
                MonitoredDatabase.tenant_id == self._tenant_id, MonitoredDatabase.id == database_id
            )
        )

    async def list(self) -> list[MonitoredDatabase]:
        rows = await self._session.scalars(
            select(MonitoredDatabase)
            .where(MonitoredDatabase.tenant_id == self._tenant_id)
            .order_by(MonitoredDatabase.name, MonitoredDatabase.id)
        )
        return list(rows)

    async def delete(self, database_id: uuid.UUID) -> None:
        # The database's row first: a storing worker or a fold of its days writing meanwhile then
        # waits for this transaction on its foreign keys (`snapshots`, `statement_daily_folds`) and
        # fails, its rows with it. The time series and its rollups have no foreign key (partitions
        # are dropped whole), so they go explicitly; everything else follows the cascade.
        await self._session.execute(
            delete(MonitoredDatabase).where(
                MonitoredDatabase.tenant_id == self._tenant_id, MonitoredDatabase.id == database_id
            )
        )
        for series in (StatementStat, StatementRollup, StatementDailyRollup):
            await self._session.execute(
                delete(series).where(series.tenant_id == self._tenant_id, series.database_id == database_id)
            )

    async def record_agent_contact(
        self,
        database_id: uuid.UUID,
        *,
        agent_version: str,
        server_version: str | None,
        at: datetime | None = None,
    ) -> None:
        values: dict[str, object] = {"agent_last_seen_at": at or func.now(), "agent_version": agent_version}
        if server_version:
            values["server_version"] = server_version
        await self._session.execute(
            update(MonitoredDatabase)
            .where(MonitoredDatabase.tenant_id == self._tenant_id, MonitoredDatabase.id == database_id)
            .values(**values)
        )

    async def record_privacy_mode(self, database_id: uuid.UUID, privacy_mode: str) -> None:
        """What the agent's latest snapshot or heartbeat said of its names: 'off' or 'pseudonyms'."""
        await self._session.execute(
            update(MonitoredDatabase)
            .where(MonitoredDatabase.tenant_id == self._tenant_id, MonitoredDatabase.id == database_id)
            .values(privacy_mode=privacy_mode)
        )

    async def record_agent_spool(self, database_id: uuid.UUID, *, spooled: int, dropped: int) -> None:
        """From a heartbeat: the spool's size now, and evictions since the last heartbeat (added up)."""
        await self._session.execute(
            update(MonitoredDatabase)
            .where(MonitoredDatabase.tenant_id == self._tenant_id, MonitoredDatabase.id == database_id)
            .values(
                agent_spooled_snapshots=spooled,
                agent_dropped_snapshots=MonitoredDatabase.agent_dropped_snapshots + dropped,
            )
        )

    async def add_agent_token(self, database_id: uuid.UUID, digest: bytes) -> AgentToken:
        token = AgentToken(
            tenant_id=self._tenant_id, id=uuid.uuid4(), database_id=database_id, token_hmac=digest
        )
        self._session.add(token)
        await self._session.flush()
        return token

    async def revoke_agent_tokens(self, database_id: uuid.UUID) -> int:
        result = await self._session.execute(
            update(AgentToken)
            .where(
                AgentToken.tenant_id == self._tenant_id,
                AgentToken.database_id == database_id,
                AgentToken.revoked_at.is_(None),
            )
            .values(revoked_at=func.now())
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


async def tenants_with_databases(session: AsyncSession) -> list[uuid.UUID]:
    """From a lookup session: every tenant that has a monitored database (ids only; migration 0017)."""
    rows = await session.scalars(text("SELECT optischema_tenants_with_databases()"))
    return list(rows)
