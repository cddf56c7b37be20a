"""Monitored databases and agent tokens of the caller's tenant. Every statement is tenant-scoped."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

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


@dataclass(frozen=True)
class AgentSpool:
    """What a heartbeat says of the agent's spool: snapshots waiting in it now, and evicted since
    the last heartbeat."""

    spooled: int
    dropped: int


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
        privacy_mode: str,
        spool: AgentSpool | None = None,
    ) -> None:
        """What a heartbeat or a stored snapshot says of its agent, as one new version of the
        database's row (a heartbeat wrote three, a stored snapshot two): heard from now, its
        versions, its names ('off', or 'pseudonyms'), and from a heartbeat its spool (the size now,
        and the evictions since the last heartbeat, added up)."""
        values: dict[str, object] = {
            "agent_last_seen_at": func.now(),
            "agent_version": agent_version,
            "privacy_mode": privacy_mode,
        }
        if server_version:
            values["server_version"] = server_version
        if spool is not None:
            values["agent_spooled_snapshots"] = spool.spooled
            values["agent_dropped_snapshots"] = MonitoredDatabase.agent_dropped_snapshots + spool.dropped
        await self._session.execute(
            update(MonitoredDatabase)
            .where(MonitoredDatabase.tenant_id == self._tenant_id, MonitoredDatabase.id == database_id)
            .values(**values)
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
