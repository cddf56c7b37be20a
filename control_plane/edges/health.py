from __future__ import annotations

from fastapi import APIRouter, Depends, Response, status
from sqlalchemy import text

from control_plane.api.services import AppServices, services

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up; says nothing about its dependencies (that is /readyz)."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(response: Response, app: AppServices = Depends(services)) -> dict[str, str]:
    try:
        async with app.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as error:  # any failure means "do not route traffic here yet"
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return {"status": "unavailable", "reason": type(error).__name__}
    return {"status": "ok"}
