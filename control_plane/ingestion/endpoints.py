from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response, status

from control_plane.api.services import AppServices, services
from control_plane.auth.dependencies import CallerSession, agent_caller
from control_plane.edges.metrics import SNAPSHOTS
from control_plane.ingestion.admission import ingestion_turn, worker_slot
from control_plane.ingestion.companion import companion
from control_plane.ingestion.payload import PayloadRejected, read_capped, read_snapshot
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
    encoding = request.headers.get("content-encoding")
    offload = companion()
    if offload is None:  # an app driven in-process: ingest here
        async with ingestion_turn(caller.session):
            snapshot = await read_snapshot(request.stream(), encoding, limit)
            stored = await IngestionService(caller.session, caller.context).store(snapshot)
        snapshot_id = str(snapshot.snapshot_id)
    else:
        async with worker_slot():
            body = await read_capped(request.stream(), limit)
            outcome = await offload.ingest(caller.context, body, encoding)
        if outcome.rejected is not None:
            raise PayloadRejected(*outcome.rejected)
        SNAPSHOTS.labels("stored" if outcome.stored else "duplicate").inc()  # counted here, not there
        snapshot_id, stored = str(outcome.snapshot_id), outcome.stored
    if not stored:
        response.status_code = status.HTTP_200_OK
    return {"snapshot_id": snapshot_id, "stored": stored, "duplicate": not stored}
