"""Approve and apply over HTTP: review, approve, reject and roll back a recommendation; a database's
maintenance window; approved changes exported for code review. Thin: the service decides."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import PlainTextResponse

from control_plane.api.services import AppServices, services
from control_plane.auth.dependencies import CallerSession, user_caller
from control_plane.changes.export import alembic_revision, revision_id, sql_migration
from control_plane.changes.maintenance_window import MaintenanceWindow
from control_plane.changes.schemas import ApproveRequest, ChangeQueued, ExportFormat, RejectRequest
from control_plane.changes.service import ChangeService
from control_plane.recommendations.schemas import RecommendationDetail, RecommendationOut
from control_plane.recommendations.service import recommendation_detail, recommendation_out

recommendation_router = APIRouter(prefix="/recommendations/{recommendation_id}", tags=["changes"])
database_router = APIRouter(prefix="/databases/{database_id}", tags=["changes"])


def _service(caller: CallerSession, app: AppServices) -> ChangeService:
    return ChangeService(caller.session, caller.context, app.settings)


@recommendation_router.get("", response_model=RecommendationDetail)
async def review(
    recommendation_id: uuid.UUID,
    caller: CallerSession = Depends(user_caller, scope="function"),
    app: AppServices = Depends(services),
) -> RecommendationDetail:
    """One recommendation with squawk's findings on its SQL, its risk and its timeline, for the
    decision to approve it."""
    reviewed = await _service(caller, app).review(recommendation_id)
    return await recommendation_detail(caller.session, caller.context, reviewed)


@recommendation_router.post("/approve", response_model=ChangeQueued)
async def approve(
    recommendation_id: uuid.UUID,
    body: ApproveRequest | None = Body(default=None),
    caller: CallerSession = Depends(user_caller, scope="function"),
    app: AppServices = Depends(services),
) -> ChangeQueued:
    """Admins only: queues the apply job (signed for the agent), not before `not_before` and only
    inside the database's maintenance window. Rewrites and config changes are advisory: 409."""
    approved, job = await _service(caller, app).approve(recommendation_id, body.not_before if body else None)
    return ChangeQueued(recommendation=recommendation_out(approved, caller.context), job_id=job.id)


@recommendation_router.post("/reject", response_model=RecommendationOut)
async def reject(
    recommendation_id: uuid.UUID,
    body: RejectRequest | None = Body(default=None),
    caller: CallerSession = Depends(user_caller, scope="function"),
    app: AppServices = Depends(services),
) -> RecommendationOut:
    rejected = await _service(caller, app).reject(recommendation_id, body.reason if body else None)
    return recommendation_out(rejected, caller.context)


@recommendation_router.post("/rollback", response_model=ChangeQueued)
async def rollback(
    recommendation_id: uuid.UUID,
    caller: CallerSession = Depends(user_caller, scope="function"),
    app: AppServices = Depends(services),
) -> ChangeQueued:
    """Admins only: queues the rollback job; the status becomes rolled_back when it succeeds."""
    queued, job = await _service(caller, app).rollback(recommendation_id)
    return ChangeQueued(recommendation=recommendation_out(queued, caller.context), job_id=job.id)


@database_router.get("/maintenance-window", response_model=MaintenanceWindow | None)
async def get_maintenance_window(
    database_id: uuid.UUID,
    caller: CallerSession = Depends(user_caller, scope="function"),
    app: AppServices = Depends(services),
) -> MaintenanceWindow | None:
    return await _service(caller, app).maintenance_window(database_id)


@database_router.put("/maintenance-window", response_model=MaintenanceWindow | None)
async def put_maintenance_window(
    database_id: uuid.UUID,
    window: MaintenanceWindow | None = Body(default=None),
    caller: CallerSession = Depends(user_caller, scope="function"),
    app: AppServices = Depends(services),
) -> MaintenanceWindow | None:
    """Apply and rollback jobs wait for the window; null clears it (any time)."""
    return await _service(caller, app).set_maintenance_window(database_id, window)


@database_router.get("/changes/export", response_class=PlainTextResponse)
async def export_changes(
    database_id: uuid.UUID,
    format: ExportFormat = Query("sql"),
    caller: CallerSession = Depends(user_caller, scope="function"),
    app: AppServices = Depends(services),
) -> PlainTextResponse:
    """Approved and applied changes as a SQL migration or an Alembic revision (an attachment)."""
    service = _service(caller, app)
    database, changes = await service.exported(database_id)
    now = await service.now()
    if format == "alembic":
        text, filename = alembic_revision(database, changes, now), f"{revision_id(database, changes)}.py"
    else:
        text, filename = sql_migration(database, changes, now), f"optischema_{database.id}.sql"
    return PlainTextResponse(text, headers={"Content-Disposition": f'attachment; filename="{filename}"'})
