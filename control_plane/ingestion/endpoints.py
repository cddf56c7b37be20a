from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response, status

from control_plane.api.services import AppServices, services
from control_plane.auth.dependencies import CallerSession, agent_caller
from control_plane.ingestion.payload import INGESTION_SLOTS, read_snapshot
from control_plane.ingestion.service import IngestionService
from shared.wire.heartbeat import Heartbeat

router = APIRouter(prefix="/agent", tags=["agent"])


@router.post("/heartbeat", status_code=status.HTTP_204_NO_CONTENT)
async def heartbeat(
    body: Heartbeat, caller: CallerSession = Depends(agent_caller, scope="function")
) -> Response:
    await IngestionService(caller.session, caller.context).heartbeat(body)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/snapshots", status_code=status.HTTP_201_CREATED)
async def ingest_snapshot(
    request: Request,
    response: Response,
    caller: CallerSession = Depends(agent_caller, scope="function"),
    app: AppServices = Depends(services),
) -> dict[str, object]:
    limit = app.settings.max_body_bytes
    async with INGESTION_SLOTS:
        snapshot = await read_snapshot(request.stream(), request.headers.get("content-encoding"), limit)
        stored = await IngestionService(caller.session, caller.context).store(snapshot)
    if not stored:
        response.status_code = status.HTTP_200_OK
    return {"snapshot_id": str(snapshot.snapshot_id), "stored": stored, "duplicate": not stored}
