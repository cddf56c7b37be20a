"""Live updates over HTTP: a bearer token buys a single-use ticket; the ticket opens one SSE stream.

See control_plane.live.service for the design and control_plane.live.stream for the events.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from control_plane.api.errors import Forbidden, NotFound, Unauthorized
from control_plane.api.services import AppServices, services
from control_plane.auth.dependencies import CallerSession, user_caller
from control_plane.db.session import tenant_session
from control_plane.live.schemas import LiveTicket
from control_plane.live.service import LiveService, Refusal, Subscription, ticket_tenant
from control_plane.live.stream import LiveStream
from control_plane.tenancy.context import TenantContext

router = APIRouter(prefix="/live", tags=["live"])

EVENT_STREAM = "text/event-stream"
STREAM_HEADERS = {
    "Cache-Control": "no-store",
    # nginx and friends buffer responses by default, which would hold events back for minutes.
    "X-Accel-Buffering": "no",
}


@router.post("/ticket", response_model=LiveTicket)
async def issue_ticket(
    caller: CallerSession = Depends(user_caller, scope="function"),
    app: AppServices = Depends(services),
) -> LiveTicket:
    """A single-use ticket for `GET /live/events`, valid for `expires_in` seconds."""
    service = LiveService(caller.session, caller.context, app.secret_key)
    return await service.issue_ticket(app.settings.live_ticket_ttl_s)


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {EVENT_STREAM: {}}, "description": "Server-sent events"}},
)
async def events(
    request: Request,
    database_id: uuid.UUID = Query(),
    ticket: str | None = Query(None, description="From POST /live/ticket; spent by this request"),
    app: AppServices = Depends(services),
) -> StreamingResponse:
    """The database's changes as server-sent events: `snapshot`, `job`, `recommendation`, and
    `reconnect` when the stream ends on purpose; a `: keep-alive` comment when nothing happens.

    The ticket is redeemed in its own transaction before the stream starts (no bearer token is
    taken here: EventSource cannot send one); the stream then holds no connection between polls.
    """
    tenant_id = ticket_tenant(ticket or "")
    if tenant_id is None:
        raise Unauthorized("a live ticket is required: POST /api/v1/live/ticket")
    context = TenantContext(tenant_id=tenant_id, principal="user")
    async with tenant_session(app.engine, context) as session:
        outcome = await LiveService(session, context, app.secret_key).redeem(ticket or "", database_id)
    # Raised after the transaction committed: a refused ticket stays spent.
    if not isinstance(outcome, Subscription):
        refusals: dict[Refusal, HTTPException] = {
            "invalid_ticket": Unauthorized("the live ticket is unknown, used or expired"),
            "unknown_database": NotFound("database not found"),
            "forbidden": Forbidden("database.read is required"),
        }
        raise refusals[outcome]
    stream = LiveStream(app.engine, outcome, app.settings, app.secret_key)
    return StreamingResponse(
        stream.events(request.is_disconnected), media_type=EVENT_STREAM, headers=STREAM_HEADERS
    )
