from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from control_plane.audit.repository import AuditRepository
from control_plane.auth.dependencies import CallerSession, user_caller
from control_plane.auth.permissions import ensure_permission

router = APIRouter(tags=["audit"])


class AuditEntry(BaseModel):
    at: datetime
    actor: str
    action: str
    object: str
    detail: dict[str, Any]


@router.get("/audit", response_model=list[AuditEntry])
async def audit_log(
    limit: int = Query(100, ge=1, le=1000), caller: CallerSession = Depends(user_caller, scope="function")
) -> list[AuditEntry]:
    ensure_permission(caller.context, "audit.read")
    events = await AuditRepository(caller.session, caller.context).list(limit)
    return [
        AuditEntry(at=e.at, actor=e.actor, action=e.action, object=e.object, detail=e.detail) for e in events
    ]
