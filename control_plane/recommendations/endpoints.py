from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from control_plane.auth.dependencies import CallerSession, user_caller
from control_plane.exports.csv_response import CSV_RESPONSE, ExportFormat, csv_response
from control_plane.recommendations.schemas import RecommendationOut, RecommendationStatus
from control_plane.recommendations.service import RecommendationService

router = APIRouter(prefix="/databases/{database_id}/recommendations", tags=["recommendations"])


@router.get("", response_model=list[RecommendationOut], responses=CSV_RESPONSE)
async def list_recommendations(
    database_id: uuid.UUID,
    status: RecommendationStatus | None = None,
    format: ExportFormat = "json",
    caller: CallerSession = Depends(user_caller, scope="function"),
) -> list[RecommendationOut] | Response:
    """The database's recommendations, biggest improvement first; `status` filters; `format=csv`
    gives the same rows as `text/csv`."""
    found = await RecommendationService(caller.session, caller.context).list(database_id, status)
    if format == "csv":
        return csv_response(RecommendationOut, found, f"recommendations_{database_id}.csv")
    return found
