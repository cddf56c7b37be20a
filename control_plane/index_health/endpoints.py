from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends

from control_plane.auth.dependencies import CallerSession, user_caller
from control_plane.index_health.schemas import IndexHealthRow
from control_plane.index_health.service import IndexHealthService

router = APIRouter(prefix="/databases/{database_id}", tags=["index-health"])


@router.get("/index-health", response_model=list[IndexHealthRow])
async def index_health(
    database_id: uuid.UUID, caller: CallerSession = Depends(user_caller, scope="function")
) -> list[IndexHealthRow]:
    """Unused, duplicate, prefix-redundant and invalid indexes of the latest snapshot, largest first,
    each with the drop_index recommendation that goes through approve-and-apply. Scans on replicas
    are not counted."""
    return await IndexHealthService(caller.session, caller.context).rows(database_id)
