from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request, Response, status

from control_plane.api.services import AppServices, services
from control_plane.auth.dependencies import CallerSession, user_caller
from control_plane.auth.permissions import ensure_permission
from control_plane.databases.agent_command import agent_command, agent_command_template, public_url
from control_plane.databases.schemas import AgentTokenOut, DatabaseCreate, DatabaseCreated, DatabaseOut
from control_plane.databases.service import DatabaseService
from control_plane.models import MonitoredDatabase

router = APIRouter(prefix="/databases", tags=["databases"])


def _service(caller: CallerSession, app: AppServices) -> DatabaseService:
    return DatabaseService(caller.session, caller.context, app.secret_key)


def _out(database: MonitoredDatabase, command_template: str) -> DatabaseOut:
    return DatabaseOut(
        id=database.id,
        name=database.name,
        agent_last_seen_at=database.agent_last_seen_at,
        agent_version=database.agent_version,
        server_version=database.server_version,
        agent_spooled_snapshots=database.agent_spooled_snapshots,
        agent_dropped_snapshots=database.agent_dropped_snapshots,
        privacy_mode="pseudonyms" if database.privacy_mode == "pseudonyms" else "off",
        agent_command_template=command_template,
    )


@router.post("", response_model=DatabaseCreated, status_code=status.HTTP_201_CREATED)
async def create_database(
    body: DatabaseCreate,
    request: Request,
    caller: CallerSession = Depends(user_caller, scope="function"),
    app: AppServices = Depends(services),
) -> DatabaseCreated:
    ensure_permission(caller.context, "database.create")
    database, token = await _service(caller, app).create(body.name)
    return DatabaseCreated(
        id=database.id,
        name=database.name,
        agent_token=token,
        agent_command=agent_command(public_url(app.settings, request), token),
    )


@router.get("", response_model=list[DatabaseOut])
async def list_databases(
    request: Request,
    caller: CallerSession = Depends(user_caller, scope="function"),
    app: AppServices = Depends(services),
) -> list[DatabaseOut]:
    template = agent_command_template(public_url(app.settings, request))
    return [_out(database, template) for database in await _service(caller, app).list()]


@router.delete("/{database_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_database(
    database_id: uuid.UUID,
    caller: CallerSession = Depends(user_caller, scope="function"),
    app: AppServices = Depends(services),
) -> Response:
    await _service(caller, app).delete(database_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{database_id}/agent-token", response_model=AgentTokenOut)
async def rotate_agent_token(
    database_id: uuid.UUID,
    request: Request,
    caller: CallerSession = Depends(user_caller, scope="function"),
    app: AppServices = Depends(services),
) -> AgentTokenOut:
    token = await _service(caller, app).rotate_agent_token(database_id)
    return AgentTokenOut(
        agent_token=token, agent_command=agent_command(public_url(app.settings, request), token)
    )
