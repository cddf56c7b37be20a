from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from control_plane.analysis.service import explanation_for
from control_plane.api.errors import NotFound
from control_plane.auth.dependencies import CallerSession, user_caller
from control_plane.databases.service import tenant_database
from control_plane.exports.csv_response import CSV_RESPONSE, ExportFormat, csv_response
from control_plane.queries.repository import QueryRepository, rollup_bucket
from control_plane.queries.schemas import OrderBy, QueryDetail, QuerySummary, SeriesPoint
from control_plane.recommendations.service import recommendations_for_query

router = APIRouter(prefix="/databases/{database_id}/queries", tags=["queries"])
DEFAULT_RANGE = timedelta(days=1)
SERIES_RANGE = timedelta(days=7)


async def _queries(caller: CallerSession, database_id: uuid.UUID) -> QueryRepository:
    await tenant_database(caller.session, caller.context, database_id)
    return QueryRepository(caller.session, caller.context, database_id)


def _range(
    since: datetime | None, until: datetime | None, default: timedelta = DEFAULT_RANGE
) -> tuple[datetime, datetime]:
    end = until or datetime.now(UTC)
    return since or end - default, end


def _top_range(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    """An explicit range is taken as given (to the microsecond). Without `from`, the window starts
    on the hour: the last day and the rest of the hour it began in, which the hourly rollups cover
    whole, where a start in mid-hour would add up that hour's raw rows first."""
    start, end = _range(since, until)
    return (start if since else rollup_bucket(start)), end


@router.get("", response_model=list[QuerySummary], responses=CSV_RESPONSE)
async def top_queries(
    database_id: uuid.UUID,
    order_by: OrderBy = "total_time",
    limit: int = Query(50, ge=1, le=500),
    since: datetime | None = Query(None, alias="from"),
    until: datetime | None = Query(None, alias="to"),
    format: ExportFormat = "json",
    caller: CallerSession = Depends(user_caller, scope="function"),
) -> list[QuerySummary] | Response:
    """The busiest statements over the range; `format=csv` gives the same rows as `text/csv`."""
    repository = await _queries(caller, database_id)
    rows = await repository.top(*_top_range(since, until), order_by, limit)
    summaries = [
        QuerySummary(
            fingerprint=row["fingerprint"],
            query=row["query"],
            calls=int(row["calls"]),
            total_exec_time_ms=round(float(row["total"]), 3),
            mean_exec_time_ms=round(float(row["mean"]), 3),
            load_pct=round(float(row["load_pct"]), 2),
        )
        for row in rows
    ]
    if format == "csv":
        return csv_response(QuerySummary, summaries, f"queries_{database_id}.csv")
    return summaries


@router.get("/{fingerprint}", response_model=QueryDetail)
async def query_detail(
    database_id: uuid.UUID,
    fingerprint: str,
    since: datetime | None = Query(None, alias="from"),
    until: datetime | None = Query(None, alias="to"),
    caller: CallerSession = Depends(user_caller, scope="function"),
) -> QueryDetail:
    repository = await _queries(caller, database_id)
    found = await repository.text_and_plan(fingerprint)
    if found is None:
        raise NotFound("query not found")
    query, plan = found
    points = await repository.series(fingerprint, *_range(since, until, SERIES_RANGE))
    return QueryDetail(
        fingerprint=fingerprint,
        query=query,
        series=[
            SeriesPoint(
                at=p.collected_at,
                interval_seconds=p.interval_seconds,
                calls=p.calls,
                total_exec_time_ms=p.total_exec_time_ms,
                mean_exec_time_ms=p.total_exec_time_ms / p.calls if p.calls else 0.0,
                rows=p.rows,
                shared_blks_hit=p.shared_blks_hit,
                shared_blks_read=p.shared_blks_read,
                temp_blks_written=p.temp_blks_written,
            )
            for p in points
        ],
        plan=plan,
        explanation=await explanation_for(caller.session, caller.context, database_id, fingerprint),
        recommendations=await recommendations_for_query(
            caller.session, caller.context, database_id, fingerprint
        ),
    )
