from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response, status

from control_plane.api.services import AppServices, services
from control_plane.auth.dependencies import CallerSession, agent_caller
from control_plane.ingestion.payload import read_capped
from control_plane.ingestion.service import IngestionService
from shared.wire.heartbeat import Heartbeat

router = APIRouter(prefix="/agent", tags=["agent"])


@router.post("/heartbeat", status_code=status.HTTP_204_NO_CONTENT)
async def heartbeat(
    body: Heartbeat, caller: CallerSession = Depends(agent_caller, scope="function")
) -> Response:
    await IngestionService(caller.session, caller.context).heartbeat(body)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/snapshots", status_code=status.HTTP_202_ACCEPTED)
async def ingest_snapshot(
    request: Request,
    response: Response,
    caller: CallerSession = Depends(agent_caller, scope="function"),
    app: AppServices = Depends(services),
) -> dict[str, object]:
    """202: the body is valid and kept in the inbox, and a worker stores it shortly (see
    control_plane.ingestion.inbox_worker); 200: a resend of a snapshot kept or stored before; 4xx:
    the body is refused whole, with what is wrong, before anything is kept."""
    limit = app.settings.max_body_bytes
    encoding = request.headers.get("content-encoding")
    body = await read_capped(request.stream(), limit)
    # Inflating and validating 5,000 statements is ~15 ms of CPU (see payload.parse_snapshot): in a
    # process of its own, so the event loop goes on serving meanwhile (see snapshot_checks).
    snapshot_id = await app.snapshot_checks.snapshot_id(body, encoding, limit)
    accepted = await IngestionService(caller.session, caller.context).accept(snapshot_id, body, encoding)
    if not accepted:
        response.status_code = status.HTTP_200_OK
    return {
        "snapshot_id": str(snapshot_id),
        "accepted": accepted,
        "stored": False,
        "duplicate": not accepted,
    }
