from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends, Query

from control_plane.api.errors import BadRequest
from control_plane.auth.dependencies import CallerSession, user_caller
from control_plane.auth.permissions import ensure_permission
from control_plane.databases.service import tenant_database
from control_plane.heatmap.grid import grid_for
from control_plane.heatmap.repository import HeatmapRepository
from control_plane.heatmap.schemas import Heatmap, HeatmapRow
from control_plane.queries.repository import utc_aware

router = APIRouter(prefix="/databases/{database_id}", tags=["queries"])
DEFAULT_RANGE = timedelta(hours=24)


@router.get("/heatmap", response_model=Heatmap)
async def heatmap(
    database_id: uuid.UUID,
    since: datetime | None = Query(None, alias="from"),
    until: datetime | None = Query(None, alias="to"),
    limit: int = Query(20, ge=1, le=100, description="How many of the busiest statements"),
    buckets: int = Query(48, ge=1, le=500),
    caller: CallerSession = Depends(user_caller, scope="function"),
) -> Heatmap:
    """The `limit` busiest statements over [from, to] (default: the last 24 hours), by total
    execution time, with their execution time in each of `buckets` equal time buckets."""
    await tenant_database(caller.session, caller.context, database_id)
    ensure_permission(caller.context, "database.read")
    end = utc_aware(until) if until else datetime.now(UTC)
    start = utc_aware(since) if since else end - DEFAULT_RANGE
    if start >= end:
        raise BadRequest("`from` must be before `to`")
    grid = grid_for(start, end, buckets)
    busiest = await HeatmapRepository(caller.session, caller.context, database_id).busiest(
        grid, start, end, limit
    )
    return Heatmap(
        buckets=grid.starts,
        bucket_seconds=grid.width.total_seconds(),
        resolution="hour" if grid.hourly else "interval",
        rows=[
            HeatmapRow(
                fingerprint=row.fingerprint,
                query=row.query,
                total_exec_time_ms=round(row.total_exec_time_ms, 3),
                cells=[round(spent, 3) for spent in row.cells],
            )
            for row in busiest
        ],
    )
