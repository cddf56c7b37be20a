"""The audit log over HTTP: filters, paging, and CSV beside JSON."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from control_plane.audit.schemas import AuditEntry, AuditFilter
from control_plane.audit.service import AuditService
from control_plane.auth.dependencies import CallerSession, user_caller
from control_plane.auth.permissions import ensure_permission
from control_plane.exports.csv_response import CSV_RESPONSE, ExportFormat, csv_response

router = APIRouter(tags=["audit"])


@router.get("/audit", response_model=list[AuditEntry], responses=CSV_RESPONSE)
async def audit_log(
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
    actor: str | None = Query(None, description="An email, or an actor id such as user:<id> or agent:<id>"),
    action: str | None = Query(None, description="e.g. recommendation.approve"),
    object: str | None = Query(None, description="An object id, or a prefix ending in ':' (recommendation:)"),
    since: datetime | None = Query(None, alias="from"),
    until: datetime | None = Query(None, alias="to"),
    format: ExportFormat = "json",
    caller: CallerSession = Depends(user_caller, scope="function"),
) -> list[AuditEntry] | Response:
    """Newest first, with people's emails and databases' names beside the ids."""
    ensure_permission(caller.context, "audit.read")
    wanted = AuditFilter(
        actor=actor, action=action, object=object, since=since, until=until, limit=limit, offset=offset
    )
    entries = await AuditService(caller.session, caller.context).entries(wanted)
    if format == "csv":
        return csv_response(AuditEntry, entries, "audit.csv")
    return entries
