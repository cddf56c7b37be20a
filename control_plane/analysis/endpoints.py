from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Query, Request, status

from control_plane.analysis.provider_settings import ProviderSettingsService
from control_plane.analysis.schemas import (
    AnalysisAccepted,
    AnalysisRunOut,
    AnalyzeRequest,
    LLMSettingsIn,
    LLMSettingsOut,
)
from control_plane.analysis.service import AnalysisService
from control_plane.api.services import AppServices, services
from control_plane.auth.dependencies import CallerSession, user_caller
from control_plane.auth.permissions import ensure_permission
from control_plane.edges.rate_limit import limiter

router = APIRouter(prefix="/databases/{database_id}", tags=["analysis"])
settings_router = APIRouter(prefix="/settings/llm", tags=["analysis"])


@router.post("/analyze", response_model=AnalysisAccepted, status_code=status.HTTP_202_ACCEPTED)
@limiter.limit(lambda: limiter.expensive_limit)
async def analyze(
    request: Request,
    database_id: uuid.UUID,
    body: AnalyzeRequest | None = None,
    caller: CallerSession = Depends(user_caller, scope="function"),
    app: AppServices = Depends(services),
) -> AnalysisAccepted:
    """Queues an analysis of the database's busiest statements (or of the given ones)."""
    service = AnalysisService(caller.session, caller.context, app.settings)
    run = await service.request(database_id, body.fingerprints if body else [])
    return AnalysisAccepted(run_id=run.id, status=run.status)


@router.get("/analyses", response_model=list[AnalysisRunOut])
async def recent_analyses(
    database_id: uuid.UUID,
    limit: int = Query(20, ge=1, le=100),
    caller: CallerSession = Depends(user_caller, scope="function"),
    app: AppServices = Depends(services),
) -> list[AnalysisRunOut]:
    return await AnalysisService(caller.session, caller.context, app.settings).recent(database_id, limit)


@router.get("/analyses/{run_id}", response_model=AnalysisRunOut)
async def get_analysis(
    database_id: uuid.UUID,
    run_id: uuid.UUID,
    caller: CallerSession = Depends(user_caller, scope="function"),
    app: AppServices = Depends(services),
) -> AnalysisRunOut:
    """The run's status, its notices, what it dropped and why, and its suggestions with their proof."""
    return await AnalysisService(caller.session, caller.context, app.settings).get(database_id, run_id)


@settings_router.get("", response_model=LLMSettingsOut)
async def read_llm_settings(
    caller: CallerSession = Depends(user_caller, scope="function"),
    app: AppServices = Depends(services),
) -> LLMSettingsOut:
    ensure_permission(caller.context, "llm_settings.manage")
    return await ProviderSettingsService(caller.session, caller.context, app.settings).read()


@settings_router.put("", response_model=LLMSettingsOut)
async def write_llm_settings(
    body: LLMSettingsIn,
    caller: CallerSession = Depends(user_caller, scope="function"),
    app: AppServices = Depends(services),
) -> LLMSettingsOut:
    """The tenant's own provider; the API key is stored encrypted and never returned."""
    ensure_permission(caller.context, "llm_settings.manage")
    return await ProviderSettingsService(caller.session, caller.context, app.settings).write(body)
