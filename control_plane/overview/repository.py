"""Reads for the overview. Every statement is tenant-scoped (and RLS filters again).

Load leaves out each agent's first snapshot (`interval_seconds IS NULL`): its counters run from the
last `pg_stat_statements` reset, often days of work, and would draw one huge false spike.

The load over time comes from the `snapshots` rows, which carry their statements' sums (calls,
execution time): one row per snapshot, 8,640 for 30 days at a 5-minute interval, where the hourly
rollups of a 10,000-statement database are ~3 million rows (seconds to add up). Time per statement
comes from the hourly rollups, which include first snapshots: their rows are taken back out, found
by the first snapshots' times (few: one per agent start or counter reset).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, text, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.ingestion.repository import ROLLUP_BUCKET, daily_bucket, rollup_bucket
from control_plane.models import (
    Recommendation,
    Snapshot,
    StatementDailyRollup,
    StatementRollup,
    StatementStat,
)
from control_plane.tenancy.context import TenantContext

DAY = timedelta(days=1)
_CUSTOM_PLANS = text("SET LOCAL plan_cache_mode = force_custom_plan")
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
        """Execution time per statement over the hours of the range, first snapshots taken out.

        The whole UTC days among those hours are read from the daily rollups, the hours before
        and after them from the hourly ones: 30 days of 300 statements are ~9,000 rows, not the
        ~200,000 hourly rows scattered over 1.5 GB of partitions they would be.
        """
        if not fingerprints:
            return {}
        wanted = tuple(fingerprints)
        first_hour, last_hour = rollup_bucket(since), rollup_bucket(until)
        first_day = daily_bucket(first_hour + DAY - ROLLUP_BUCKET)  # the first midnight from first_hour on
        days_end = daily_bucket(last_hour + ROLLUP_BUCKET)  # the last midnight up to the end of last_hour
        hourly = [(first_hour, last_hour)]
        parts = []
        if first_day < days_end:
            hourly = [(first_hour, first_day - ROLLUP_BUCKET), (days_end, last_hour)]
            parts.append(self._sums(StatementDailyRollup, wanted, first_day, days_end - DAY))
        parts += [self._sums(StatementRollup, wanted, start, end) for start, end in hourly if start <= end]
        both = union_all(*parts).subquery("both")
        # Otherwise, from its sixth run a prepared statement may get a generic plan made without the
        # 300 fingerprints' values or the bounds: 11 s where the custom plan took 0.5 s (30 days, hourly).
        await self._session.execute(_CUSTOM_PLANS)
        rows = await self._session.execute(
            select(both.c.fingerprint, func.sum(both.c.total)).group_by(both.c.fingerprint)
        )
        spent = {row[0]: float(row[1] or 0.0) for row in rows}
        # Found among the range's few snapshots, not by a filter on its millions of raw rows; usually
        # there is none, and the raw rows (30 partitions to plan: 20 ms) are not asked at all.
        first_snapshots_at = list(
            await self._session.scalars(
                select(Snapshot.collected_at).where(
                    *self._snapshots_of_database(),
                    Snapshot.collected_at >= rollup_bucket(since),
                    Snapshot.collected_at < until + ROLLUP_BUCKET,
                    Snapshot.interval_seconds.is_(None),
                )
            )
        )
        if not first_snapshots_at:
            return spent
        first_snapshots = await self._session.execute(
            select(StatementStat.fingerprint, func.sum(StatementStat.total_exec_time_ms))
            .where(
                StatementStat.tenant_id == self._tenant_id,
                StatementStat.database_id == self._database_id,
                StatementStat.collected_at.in_(first_snapshots_at),
                StatementStat.interval_seconds.is_(None),
                StatementStat.fingerprint.in_(wanted),
            )
            .group_by(StatementStat.fingerprint)
        )
        for found, total in first_snapshots:
            spent[found] = max(0.0, spent.get(found, 0.0) - float(total or 0.0))
        return spent

    def _sums(
        self,
        rollup: type[StatementRollup] | type[StatementDailyRollup],
        wanted: tuple[str, ...],
        first: datetime,
        last: datetime,
    ) -> Select[str, float]:
        """(fingerprint, total execution time) of the `wanted` statements in buckets [first, last]."""
        return (
            select(rollup.fingerprint, func.sum(rollup.total_exec_time_ms).label("total"))
            .where(
                rollup.tenant_id == self._tenant_id,
                rollup.database_id == self._database_id,
                rollup.bucket >= first,
                rollup.bucket <= last,
                rollup.fingerprint.in_(wanted),
            )
            .group_by(rollup.fingerprint)
        )

    async def open_recommendations(self) -> list[Recommendation]:
        rows = await self._session.scalars(
            select(Recommendation).where(
                Recommendation.tenant_id == self._tenant_id,
                Recommendation.database_id == self._database_id,
                Recommendation.status == "proposed",
            )
        )
        return list(rows)
