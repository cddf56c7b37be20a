"""The heatmap in one statement: statement time per (statement, bucket), the busiest statements kept.

Tenant-scoped like every read (and RLS filters again). Hourly grids add up the exact counters of
control_plane.queries.repository (whole hours from the rollups, cut edge hours raw); finer grids
read the raw intervals of the range through their (tenant, database, collected_at) index.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Float, Integer, cast, desc, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.heatmap.grid import Grid
from control_plane.models import Statement, StatementStat
from control_plane.queries.repository import QueryRepository
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

    def _times(self, grid: Grid, since: datetime, until: datetime) -> Any:
        """(fingerprint, at, total_exec_time_ms) rows whose sums per grid cell are the raw rows',
        each agent's first snapshot left out (its counters since a reset would be one huge cell)."""
        if grid.hourly:
            return QueryRepository(self._session, self._context, self._database_id).counters_in_range(
                since, until, without_first_snapshots=True
            )
        return (
            select(
                StatementStat.fingerprint,
                StatementStat.collected_at.label("at"),
                StatementStat.total_exec_time_ms,
            )
            .where(
                StatementStat.tenant_id == self._tenant_id,
                StatementStat.database_id == self._database_id,
                StatementStat.collected_at >= since,
                StatementStat.collected_at <= until,
                StatementStat.interval_seconds.is_not(None),
            )
            .subquery("counters")
        )

    async def busiest(self, grid: Grid, since: datetime, until: datetime, limit: int) -> list[BusyStatement]:
        times = self._times(grid, since, until)
        # Seconds since the grid's start over the bucket width; `to` itself (or float rounding of
        # a fractional width) would make index `count`: it belongs to the last bucket.
        offset_s = cast(func.extract("epoch", times.c.at), Float) - grid.start.timestamp()
        cell = func.least(
            cast(func.floor(offset_s / grid.width.total_seconds()), Integer), grid.count - 1
        ).label("cell")
        per_cell = (
            select(times.c.fingerprint, cell, func.sum(times.c.total_exec_time_ms).label("spent"))
            .group_by(times.c.fingerprint, cell)
            .subquery("per_cell")
        )
        top = (
            select(per_cell.c.fingerprint, func.sum(per_cell.c.spent).label("total"))
            .group_by(per_cell.c.fingerprint)
            .order_by(desc("total"), per_cell.c.fingerprint)
            .limit(limit)
            .subquery("top")
        )
        # The text, one index lookup per kept statement (see QueryRepository.top for the LIMIT).
        text_of = (
            select(Statement.query)
            .where(
                Statement.tenant_id == self._tenant_id,
                Statement.database_id == self._database_id,
                Statement.fingerprint == top.c.fingerprint,
            )
            .limit(1)
            .lateral("text_of")
        )
        named = select(top, text_of.c.query).outerjoin(text_of, true()).subquery("named")
        rows = await self._session.execute(
            select(named.c.fingerprint, named.c.query, named.c.total, per_cell.c.cell, per_cell.c.spent)
            .join(per_cell, per_cell.c.fingerprint == named.c.fingerprint)
            .order_by(desc(named.c.total), named.c.fingerprint, per_cell.c.cell)
        )
        busiest: dict[str, BusyStatement] = {}
        for fingerprint, query, total, index, spent in rows:
            if query is None:  # a statement is stored with its first counters; never missing
                continue
            row = busiest.setdefault(
                fingerprint, BusyStatement(fingerprint, query, float(total), [0.0] * grid.count)
            )
            row.cells[index] += float(spent)
        return list(busiest.values())
