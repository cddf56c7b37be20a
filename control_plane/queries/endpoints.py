from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import TypeAdapter

from control_plane.analysis.service import explanation_for
from control_plane.api.errors import NotFound
from control_plane.auth.dependencies import CallerSession, user_caller
from control_plane.databases.service import tenant_database
from control_plane.exports.csv_response import CSV_RESPONSE, ExportFormat, csv_response
from control_plane.queries.repository import QueryRepository, StatementSums, rollup_bucket, utc_aware
from control_plane.queries.schemas import OrderBy, QueryDetail, QuerySummary, SeriesPoint
from control_plane.queries.series import SeriesRepository, resolution_for
from control_plane.recommendations.service import recommendations_for_query

router = APIRouter(prefix="/databases/{database_id}/queries", tags=["queries"])
DEFAULT_RANGE = timedelta(days=1)
SERIES_RANGE = timedelta(days=7)
# The number of statements that match before paging: "1-50 of 8,213".
TOTAL_COUNT = "X-Total-Count"
_SUMMARIES = TypeAdapter(list[QuerySummary])


async def _queries(caller: CallerSession, database_id: uuid.UUID) -> QueryRepository:
    await tenant_database(caller.session, caller.context, database_id)
    return QueryRepository(caller.session, caller.context, database_id)


def _range(
    since: datetime | None, until: datetime | None, default: timedelta = DEFAULT_RANGE
) -> tuple[datetime, datetime]:
    end = utc_aware(until) if until else datetime.now(UTC)
    return (utc_aware(since) if since else end - default), end


def _top_range(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    """An explicit range is taken as given (to the microsecond). Without `from`, the window starts
    on the hour: the last day and the rest of the hour it began in, which the hourly rollups cover
    whole, where a start in mid-hour would add up that hour's raw rows first."""
    start, end = _range(since, until)
    return (start if since else rollup_bucket(start)), end


def _summary(sums: StatementSums) -> QuerySummary:
    calls, total = int(sums.calls), float(sums.total_exec_time_ms)
    blocks = int(sums.shared_blks_hit) + int(sums.shared_blks_read)
    grand_total = sums.grand_total_exec_time_ms
    return QuerySummary(
        fingerprint=sums.fingerprint,
        query=sums.query,
        calls=calls,
        total_exec_time_ms=round(total, 3),
        mean_exec_time_ms=round(total / calls, 3) if calls else 0.0,
        load_pct=round(100.0 * total / grand_total, 2) if grand_total else 0.0,
        rows=int(sums.rows),
        rows_per_call=round(int(sums.rows) / calls, 3) if calls else 0.0,
        cache_hit_pct=round(100.0 * int(sums.shared_blks_hit) / blocks, 2) if blocks else None,
        shared_blks_read=int(sums.shared_blks_read),
        temp_blks_written=int(sums.temp_blks_written),
    )


@router.get("", response_model=list[QuerySummary], responses=CSV_RESPONSE)
async def top_queries(
    database_id: uuid.UUID,
    response: Response,
    order_by: OrderBy = "total_time",
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=1_000_000),
    q: str | None = Query(None, max_length=500, description="Case-insensitive substring of the text"),
    since: datetime | None = Query(None, alias="from"),
    until: datetime | None = Query(None, alias="to"),
    format: ExportFormat | None = Query(None, description="csv or json: the page as a file to download"),
    caller: CallerSession = Depends(user_caller, scope="function"),
) -> list[QuerySummary] | Response:
    """The busiest statements over the range, one page of them; `X-Total-Count` says how many match
    in all. `format=csv` gives the page as `text/csv`, `format=json` as a JSON file (attachment)."""
    repository = await _queries(caller, database_id)
    found = await repository.top(*_top_range(since, until), order_by, limit, offset, q or None)
    summaries = [_summary(sums) for sums in found.statements]
    total_count = {TOTAL_COUNT: str(found.matching)}
    if format is None:
        response.headers.update(total_count)
        return summaries
    if format == "csv":
        exported = csv_response(QuerySummary, summaries, f"queries_{database_id}.csv")
    else:
        exported = Response(
            _SUMMARIES.dump_json(summaries),
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="queries_{database_id}.json"'},
        )
    exported.headers.update(total_count)
    return exported


@router.get("/{fingerprint}", response_model=QueryDetail)
async def query_detail(
    database_id: uuid.UUID,
    fingerprint: str,
    since: datetime | None = Query(None, alias="from"),
    until: datetime | None = Query(None, alias="to"),
    caller: CallerSession = Depends(user_caller, scope="function"),
) -> QueryDetail:
    database = await tenant_database(caller.session, caller.context, database_id)
    repository = QueryRepository(caller.session, caller.context, database_id)
    found = await repository.text_and_plan(fingerprint)
    if found is None:
        raise NotFound("query not found")
    query, plan = found
    start, end = _range(since, until, SERIES_RANGE)
    resolution = resolution_for(start, end)
    points = await SeriesRepository(caller.session, caller.context, database_id).series(
        fingerprint, resolution, start, end
    )
    return QueryDetail(
        fingerprint=fingerprint,
        query=query,
        resolution=resolution,
        series=[
            SeriesPoint(
                at=p.at,
                interval_seconds=p.interval_seconds,
                calls=int(p.calls),
                total_exec_time_ms=float(p.total_exec_time_ms),
                mean_exec_time_ms=float(p.total_exec_time_ms) / int(p.calls) if p.calls else 0.0,
                rows=int(p.rows),
                shared_blks_hit=int(p.shared_blks_hit),
                shared_blks_read=int(p.shared_blks_read),
                temp_blks_written=int(p.temp_blks_written),
            )
            for p in points
        ],
        plan=plan,
        explanation=await explanation_for(caller.session, caller.context, database_id, fingerprint),
        recommendations=await recommendations_for_query(
            caller.session, caller.context, database, fingerprint
        ),
    )
