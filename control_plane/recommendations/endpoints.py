from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends

from control_plane.auth.dependencies import CallerSession, user_caller
from control_plane.recommendations.schemas import RecommendationOut, RecommendationStatus
from control_plane.recommendations.service import RecommendationService

router = APIRouter(prefix="/databases/{database_id}/recommendations", tags=["recommendations"])


@router.get("", response_model=list[RecommendationOut])
async def list_recommendations(
    database_id: uuid.UUID,
    status: RecommendationStatus | None = None,
    caller: CallerSession = Depends(user_caller, scope="function"),
) -> list[RecommendationOut]:
    """The database's recommendations, biggest improvement first; `status` filters."""
    return await RecommendationService(caller.session, caller.context).list(database_id, status)
