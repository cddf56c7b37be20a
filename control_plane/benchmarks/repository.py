"""SQL of benchmarks: the agent's sandbox flag, calls per day, a recommendation's verdict, and the
recommendations waiting for an automatic benchmark."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.models import MonitoredDatabase, Recommendation, StatementRollup
from control_plane.tenancy.context import TenantContext

DAY = timedelta(days=1)


class BenchmarkRepository:
    def __init__(self, session: AsyncSession, context: TenantContext) -> None:
        self._session = session
        self._tenant_id = context.tenant_id

    async def record_sandbox(self, database_id: uuid.UUID, sandbox: bool) -> None:
        await self._session.execute(
            update(MonitoredDatabase)
            .where(MonitoredDatabase.tenant_id == self._tenant_id, MonitoredDatabase.id == database_id)
            .values(agent_sandbox=sandbox)
        )

    async def has_sandbox(self, database_id: uuid.UUID) -> bool:
        found = await self._session.scalar(
            select(MonitoredDatabase.agent_sandbox).where(
                MonitoredDatabase.tenant_id == self._tenant_id, MonitoredDatabase.id == database_id
            )
        )
        return bool(found)

    async def recommendation(
        self, recommendation_id: uuid.UUID, *, lock: bool = False
    ) -> Recommendation | None:
        query = select(Recommendation).where(
            Recommendation.tenant_id == self._tenant_id, Recommendation.id == recommendation_id
        )
        if lock:
            query = query.with_for_update()
        return await self._session.scalar(query)

    async def calls_per_day(
        self, database_id: uuid.UUID, fingerprints: Sequence[str], now: datetime
    ) -> dict[str, float]:
        """Calls of each statement in the hourly rollups of the last 24 hours (first snapshots
        included: on a young database they are all there is)."""
        if not fingerprints:
            return {}
        rows = await self._session.execute(
            select(StatementRollup.fingerprint, func.sum(StatementRollup.calls))
            .where(
                StatementRollup.tenant_id == self._tenant_id,
                StatementRollup.database_id == database_id,
                StatementRollup.bucket >= now - DAY,
                StatementRollup.fingerprint.in_(list(fingerprints)),
            )
            .group_by(StatementRollup.fingerprint)
        )
        return {str(fingerprint): float(calls or 0) for fingerprint, calls in rows}

    async def set_benchmark(
        self, recommendation_id: uuid.UUID, benchmark: dict[str, Any], **values: Any
    ) -> None:
        await self._session.execute(
            update(Recommendation)
            .where(Recommendation.tenant_id == self._tenant_id, Recommendation.id == recommendation_id)
            # Touched as a status change is (migration 0008's trigger only sees statuses): the live
            # stream then announces the verdict and open pages refetch the recommendation.
            .values(
                benchmark=benchmark, updated_at=func.now(), status_changed_at=func.clock_timestamp(), **values
            )
        )

    async def idle_sandboxes(self) -> list[uuid.UUID]:
        """The tenant's databases whose agent has a sandbox and no benchmark queued, locked SKIP
        LOCKED: one benchmark at a time per sandbox (two at once would time each other's load), and
        two control-plane processes looking at once never both queue one for the same database."""
        queued = (
            select(Recommendation.id)
            .where(
                Recommendation.tenant_id == self._tenant_id,
                Recommendation.database_id == MonitoredDatabase.id,
                Recommendation.benchmark["verdict"].astext == "queued",
            )
            .correlate(MonitoredDatabase)
        )
        rows = await self._session.scalars(
            select(MonitoredDatabase.id)
            .where(
                MonitoredDatabase.tenant_id == self._tenant_id,
                MonitoredDatabase.agent_sandbox.is_(True),
                ~exists(queued),
            )
            .order_by(MonitoredDatabase.id)
            .with_for_update(skip_locked=True)
        )
        return list(rows)

    async def never_benchmarked(self, database_id: uuid.UUID) -> list[Recommendation]:
        """The database's proposed, verified create_index recommendations no benchmark has looked at,
        the largest estimated cut first (the oldest on a tie)."""
        rows = await self._session.scalars(
            select(Recommendation)
            .where(
                Recommendation.tenant_id == self._tenant_id,
                Recommendation.database_id == database_id,
                Recommendation.kind == "create_index",
                Recommendation.tier == "verified",
                Recommendation.status == "proposed",
                Recommendation.benchmark.is_(None),
            )
            .order_by(Recommendation.improvement_pct.desc().nulls_last(), Recommendation.created_at)
            # A person asking for one of them at this moment holds it: skipped here, queued there.
            .with_for_update(skip_locked=True)
        )
        return list(rows)
