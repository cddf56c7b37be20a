"""Reads for the overview. Every statement is tenant-scoped (and RLS filters again).

Load leaves out each agent's first snapshot (`interval_seconds IS NULL`): its counters run from the
last `pg_stat_statements` reset, often days of work, and would draw one huge false spike.

The load over time comes from the `snapshots` rows, which carry their statements' sums (calls,
execution time): one row per snapshot, 8,640 for 30 days at a 5-minute interval, where the hourly
rollups of a 10,000-statement database are ~3 million rows (seconds to add up). Time per statement
is top queries' exact sums (control_plane.queries.repository), first snapshots taken out.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.ingestion.repository import ROLLUP_BUCKET, rollup_bucket
from control_plane.models import Recommendation, Snapshot
from control_plane.queries.repository import QueryRepository
from control_plane.tenancy.context import TenantContext

_CUSTOM_PLANS = text("SET LOCAL plan_cache_mode = force_custom_plan")
# (at, total_exec_time_ms, calls)
LoadRow = tuple[datetime, float, int]


class OverviewRepository:
    def __init__(self, session: AsyncSession, context: TenantContext, database_id: uuid.UUID) -> None:
        self._session = session
        self._context = context
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

    def _snapshots_of_database(self) -> list[ColumnElement[bool]]:
        return [Snapshot.tenant_id == self._tenant_id, Snapshot.database_id == self._database_id]

    async def load_per_interval(self, since: datetime, until: datetime) -> list[LoadRow]:
        """One point per snapshot in [since, until] (two of one instant add up), first snapshots left out."""
        rows = await self._session.execute(
            select(Snapshot.collected_at, func.sum(Snapshot.total_exec_time_ms), func.sum(Snapshot.calls))
            .where(
                *self._snapshots_of_database(),
                Snapshot.collected_at >= since,
                Snapshot.collected_at <= until,
                Snapshot.statement_count > 0,
                Snapshot.interval_seconds.is_not(None),
            )
            .group_by(Snapshot.collected_at)
            .order_by(Snapshot.collected_at)
        )
        return [(row[0], float(row[1] or 0.0), int(row[2] or 0)) for row in rows]

    async def load_per_hour(self, since: datetime, until: datetime) -> list[LoadRow]:
        """Hourly sums over the hours starting in [since, until], first snapshots left out."""
        hour = func.date_trunc("hour", Snapshot.collected_at, "UTC")
        rows = await self._session.execute(
            select(hour, func.sum(Snapshot.total_exec_time_ms), func.sum(Snapshot.calls))
            .where(
                *self._snapshots_of_database(),
                Snapshot.collected_at >= rollup_bucket(since),
                Snapshot.collected_at < rollup_bucket(until) + ROLLUP_BUCKET,
                Snapshot.statement_count > 0,
                Snapshot.interval_seconds.is_not(None),
            )
            .group_by(hour)
            .order_by(hour)
        )
        return [(row[0], float(row[1] or 0.0), int(row[2] or 0)) for row in rows]

    async def time_per_statement(
        self, fingerprints: Sequence[str], since: datetime, until: datetime
    ) -> dict[str, float]:
        """Execution time per statement over [since, until], first snapshots taken out: the exact
        sums top queries read (QueryRepository.counters_select: running totals for whole days, the
        edge days and hours rolled up, raw rows only for cut hours)."""
        if not fingerprints:
            return {}
        queries = QueryRepository(self._session, self._context, self._database_id)
        counters = queries.counters_select(
            since,
            until,
            without_first_snapshots=True,
            whole_days=True,
            fingerprints=tuple(fingerprints),
            totals=await queries.running_totals(),
        ).subquery("counters")
        # Otherwise, from its sixth run a prepared statement may get a generic plan made without the
        # 300 fingerprints' values or the bounds: 11 s where the custom plan took 0.5 s (30 days, hourly).
        await self._session.execute(_CUSTOM_PLANS)
        rows = await self._session.execute(
            select(counters.c.fingerprint, func.sum(counters.c.total_exec_time_ms)).group_by(
                counters.c.fingerprint
            )
        )
        return {row[0]: max(0.0, float(row[1] or 0.0)) for row in rows}

    async def open_recommendations(self) -> list[Recommendation]:
        rows = await self._session.scalars(
            select(Recommendation).where(
                Recommendation.tenant_id == self._tenant_id,
                Recommendation.database_id == self._database_id,
                Recommendation.status == "proposed",
            )
        )
        return list(rows)
