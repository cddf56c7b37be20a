"""The heatmap in one statement: the busiest statements over the range, then their time per bucket.

Tenant-scoped like every read (and RLS filters again). The busiest are ranked on the exact counters
of control_plane.queries.repository (whole hours from the rollups, cut edge hours raw), each
agent's first snapshot left out (its counters since a reset would be one huge cell). Their cells
come from those same counters on an hourly grid (read once: a CTE), and from their raw intervals,
a probe of the key per snapshot (queries/intervals.py), on a finer grid. Aggregating every
statement's cells and then keeping 20 cost twice as much: on a loaded 2-core machine with 2,000
statements, a day in 48 buckets took 460 ms that way against the whole day's raw rows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Float, Integer, cast, desc, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.heatmap.grid import Grid
from control_plane.models import Snapshot, StatementStat
from control_plane.queries.intervals import intervals_between
from control_plane.queries.repository import QueryRepository, statement_text_of
from control_plane.tenancy.context import TenantContext


@dataclass
class BusyStatement:
    fingerprint: str
    query: str
    total_exec_time_ms: float
    cells: list[float] = field(default_factory=list)


class HeatmapRepository:
    def __init__(self, session: AsyncSession, context: TenantContext, database_id: uuid.UUID) -> None:
        self._session = session
        self._context = context
        self._tenant_id = context.tenant_id
        self._database_id = database_id

    def _raw_intervals(self, since: datetime, until: datetime, fingerprints: Any) -> Any:
        return (
            select(
                StatementStat.fingerprint,
                StatementStat.collected_at.label("at"),
                StatementStat.total_exec_time_ms,
            )
            .where(
                *intervals_between(
                    self._tenant_id,
                    self._database_id,
                    since,
                    until,
                    of_snapshots=[Snapshot.interval_seconds.is_not(None)],
                ),
                StatementStat.fingerprint.in_(fingerprints),
                StatementStat.interval_seconds.is_not(None),
            )
            .subquery("intervals")
        )

    async def busiest(self, grid: Grid, since: datetime, until: datetime, limit: int) -> list[BusyStatement]:
        queries = QueryRepository(self._session, self._context, self._database_id)
        # Ranked on the exact sums, whole days read from the daily rollups; then only the kept
        # statements' hours (the hourly rollups by fingerprint, 0015) or raw intervals are read.
        ranked = queries.counters_select(
            since, until, without_first_snapshots=True, whole_days=True, totals=await queries.running_totals()
        ).subquery("ranked")
        top = (
            select(ranked.c.fingerprint, func.sum(ranked.c.total_exec_time_ms).label("total"))
            .group_by(ranked.c.fingerprint)
            .order_by(desc("total"), ranked.c.fingerprint)
            .limit(limit)
            .cte("top")
        )
        kept = select(top.c.fingerprint)
        times = (
            queries.counters_select(since, until, without_first_snapshots=True, fingerprints=kept).subquery(
                "hours"
            )
            if grid.hourly
            else self._raw_intervals(since, until, kept)
        )
        # Seconds since the grid's start over the bucket width; `to` itself (or float rounding of
        # a fractional width) would make index `count`: it belongs to the last bucket.
        offset_s = cast(func.extract("epoch", times.c.at), Float) - grid.start.timestamp()
        cell = func.least(
            cast(func.floor(offset_s / grid.width.total_seconds()), Integer), grid.count - 1
        ).label("cell")
        per_cell = (
            select(times.c.fingerprint, cell, func.sum(times.c.total_exec_time_ms).label("spent"))
            .where(times.c.fingerprint.in_(kept))
            .group_by(times.c.fingerprint, cell)
            .subquery("per_cell")
        )
        text_of = statement_text_of(self._tenant_id, self._database_id, top.c.fingerprint)
        rows = await self._session.execute(
            select(top.c.fingerprint, text_of.c.query, top.c.total, per_cell.c.cell, per_cell.c.spent)
            .select_from(top)
            .outerjoin(text_of, true())
            .join(per_cell, per_cell.c.fingerprint == top.c.fingerprint)
            .order_by(desc(top.c.total), top.c.fingerprint, per_cell.c.cell)
        )
        busiest: dict[str, BusyStatement] = {}
        for fingerprint, query, total, index, spent in rows:
            if query is None:  # not catalogued until a snapshot brings its text (ingestion.repository)
                continue
            row = busiest.setdefault(
                fingerprint, BusyStatement(fingerprint, query, float(total), [0.0] * grid.count)
            )
            row.cells[index] += float(spent)
        return list(busiest.values())
