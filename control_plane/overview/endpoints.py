from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends, Query

from control_plane.api.services import AppServices, services
from control_plane.auth.dependencies import CallerSession, user_caller
from control_plane.overview.schemas import Overview
from control_plane.overview.service import OverviewService

router = APIRouter(prefix="/databases/{database_id}", tags=["overview"])
DEFAULT_RANGE = timedelta(hours=24)


@router.get("/overview", response_model=Overview)
async def overview(
    database_id: uuid.UUID,
    since: datetime | None = Query(None, alias="from"),
    until: datetime | None = Query(None, alias="to"),
    caller: CallerSession = Depends(user_caller, scope="function"),
    app: AppServices = Depends(services),
) -> Overview:
    """Agent status, KPIs from the latest snapshot, load over [from, to] (default: the last 24 h),
    and the open recommendations ranked by the statement time they would save."""
    now = datetime.now(UTC)
    end = until or now
    start = since or end - DEFAULT_RANGE
    service = OverviewService(caller.session, caller.context, app.settings.agent_poll_interval_s)
    return await service.overview(database_id, start, end, now)
