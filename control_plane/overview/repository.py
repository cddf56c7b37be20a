"""Reads for the overview. Every statement is tenant-scoped (and RLS filters again).

Load leaves out each agent's first snapshot (`interval_seconds IS NULL`): its counters run from the
last `pg_stat_statements` reset, often days of work, and would draw one huge false spike. The raw
rows are filtered directly; the hourly rollups include those rows, so their hour's sums are taken
back out (they are few: one snapshot per agent start or counter reset).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.ingestion.repository import ROLLUP_BUCKET, rollup_bucket
from control_plane.models import Recommendation, Snapshot, StatementRollup, StatementStat
from control_plane.tenancy.context import TenantContext

# (at, total_exec_time_ms, calls)
LoadRow = tuple[datetime, float, int]


class OverviewRepository:
    def __init__(self, session: AsyncSession, context: TenantContext, database_id: uuid.UUID) -> None:
        self._session = session
        self._tenant_id = context.tenant_id
        self._database_id = database_id

    async def latest_server(self) -> tuple[datetime, dict[str, Any]] | None:
        row = (
            await self._session.execute(
                select(Snapshot.collected_at, Snapshot.server)
                .where(Snapshot.tenant_id == self._tenant_id, Snapshot.database_id == self._database_id)
                .order_by(Snapshot.collected_at.desc())
                .limit(1)
            )
        ).first()
        return None if row is None else (row[0], dict(row[1]))

    async def load_per_interval(self, since: datetime, until: datetime) -> list[LoadRow]:
        rows = await self._session.execute(
            select(
                StatementStat.collected_at,
                func.sum(StatementStat.total_exec_time_ms),
                func.sum(StatementStat.calls),
            )
            .where(
                StatementStat.tenant_id == self._tenant_id,
                StatementStat.database_id == self._database_id,
                StatementStat.collected_at >= since,
                StatementStat.collected_at <= until,
                StatementStat.interval_seconds.is_not(None),
            )
            .group_by(StatementStat.collected_at)
            .order_by(StatementStat.collected_at)
        )
        return [(row[0], float(row[1] or 0.0), int(row[2] or 0)) for row in rows]

    async def load_per_hour(self, since: datetime, until: datetime) -> list[LoadRow]:
        """Hourly sums from the rollups of the hours starting in [since, until], first snapshots taken out."""
        rolled = await self._session.execute(
            select(
                StatementRollup.bucket,
                func.sum(StatementRollup.total_exec_time_ms),
                func.sum(StatementRollup.calls),
            )
            .where(
                StatementRollup.tenant_id == self._tenant_id,
                StatementRollup.database_id == self._database_id,
                StatementRollup.bucket >= rollup_bucket(since),
                StatementRollup.bucket <= until,
            )
            .group_by(StatementRollup.bucket)
        )
        first_snapshots = await self._session.execute(
            select(
                StatementStat.collected_at,
                func.sum(StatementStat.total_exec_time_ms),
                func.sum(StatementStat.calls),
            )
            .where(
                StatementStat.tenant_id == self._tenant_id,
                StatementStat.database_id == self._database_id,
                StatementStat.collected_at >= rollup_bucket(since),
                StatementStat.collected_at < until + ROLLUP_BUCKET,
                StatementStat.interval_seconds.is_(None),
            )
            .group_by(StatementStat.collected_at)
        )
        taken_out: dict[datetime, tuple[float, int]] = {}
        for collected_at, total, calls in first_snapshots:
            hour = rollup_bucket(collected_at)
            ms, count = taken_out.get(hour, (0.0, 0))
            taken_out[hour] = (ms + float(total or 0.0), count + int(calls or 0))
        load = []
        for at, total, calls in rolled:
            less_ms, less_calls = taken_out.get(at, (0.0, 0))
            load.append((at, max(0.0, float(total or 0.0) - less_ms), max(0, int(calls or 0) - less_calls)))
        return sorted(load)

    async def time_per_statement(
        self, fingerprints: Sequence[str], since: datetime, until: datetime
    ) -> dict[str, float]:
        """Execution time per statement over the hours of the range, first snapshots taken out."""
        if not fingerprints:
            return {}
        wanted = tuple(fingerprints)
        rows = await self._session.execute(
            select(StatementRollup.fingerprint, func.sum(StatementRollup.total_exec_time_ms))
            .where(
                StatementRollup.tenant_id == self._tenant_id,
                StatementRollup.database_id == self._database_id,
                StatementRollup.bucket >= rollup_bucket(since),
                StatementRollup.bucket <= until,
                StatementRollup.fingerprint.in_(wanted),
            )
            .group_by(StatementRollup.fingerprint)
        )
        spent = {row[0]: float(row[1] or 0.0) for row in rows}
        first_snapshots = await self._session.execute(
            select(StatementStat.fingerprint, func.sum(StatementStat.total_exec_time_ms))
            .where(
                StatementStat.tenant_id == self._tenant_id,
                StatementStat.database_id == self._database_id,
                StatementStat.collected_at >= rollup_bucket(since),
                StatementStat.collected_at < until + ROLLUP_BUCKET,
                StatementStat.interval_seconds.is_(None),
                StatementStat.fingerprint.in_(wanted),
            )
            .group_by(StatementStat.fingerprint)
        )
        for found, total in first_snapshots:
            spent[found] = max(0.0, spent.get(found, 0.0) - float(total or 0.0))
        return spent

    async def open_recommendations(self) -> list[Recommendation]:
        rows = await self._session.scalars(
            select(Recommendation).where(
                Recommendation.tenant_id == self._tenant_id,
                Recommendation.database_id == self._database_id,
                Recommendation.status == "proposed",
            )
        )
        return list(rows)
