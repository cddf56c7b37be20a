from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response, status

from control_plane.api.services import AppServices, services
from control_plane.auth.dependencies import CallerSession, user_caller
from control_plane.auth.schemas import LoginRequest, RefreshRequest, TokenPair
from control_plane.auth.service import AuthService
from control_plane.edges.rate_limit import client_address, limiter

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/login", response_model=TokenPair)
@limiter.limit(lambda: limiter.login_limit)
async def login(request: Request, body: LoginRequest, app: AppServices = Depends(services)) -> TokenPair:
    return await AuthService(app).login(body.email, body.password, client_address(request))


@router.post("/refresh", response_model=TokenPair)
@limiter.limit(lambda: limiter.login_limit)
async def refresh(request: Request, body: RefreshRequest, app: AppServices = Depends(services)) -> TokenPair:
    return await AuthService(app).refresh(body.refresh_token)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(
    caller: CallerSession = Depends(user_caller, scope="function"), app: AppServices = Depends(services)
) -> Response:
    await AuthService(app).logout(caller.session, caller.context)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
