"""Who is calling: a user with an access token or an agent with its token, never either for the other.

Each dependency opens the request's one transaction already scoped to the caller's tenant (RLS
underneath, TenantContext on top); endpoints and services work inside it and never commit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.api.errors import Unauthorized
from control_plane.api.services import AppServices, services
from control_plane.auth.access_tokens import InvalidAccessToken
from control_plane.auth.lookup_repository import find_agent_token
from control_plane.auth.opaque_tokens import AGENT_TOKEN_PREFIX, has_prefix, token_hmac
from control_plane.db.session import tenant_session
from control_plane.tenancy.context import TenantContext
from control_plane.users.repository import UserRepository

bearer = HTTPBearer(auto_error=False)


@dataclass(frozen=True)
class CallerSession:
    """The caller's tenant context and the request's transaction."""

    context: TenantContext
    session: AsyncSession


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized()
    return credentials.credentials


async def user_caller(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    app: AppServices = Depends(services),
) -> AsyncIterator[CallerSession]:
    token = _token(credentials)
    if token.startswith(AGENT_TOKEN_PREFIX):
        raise Unauthorized("agent tokens cannot call user endpoints")
    settings = app.settings
    try:
        claims = app.keyring.verify(
            token,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            leeway_s=settings.clock_skew_leeway_s,
        )
    except InvalidAccessToken:
        raise Unauthorized() from None
    context = TenantContext(tenant_id=claims.tenant_id, principal="user", user_id=claims.subject)
    request.state.principal_key = f"user:{claims.subject}"
    async with tenant_session(app.engine, context) as session:
        # The user row, not the token, decides: sign-out, password change, disabling and role
        # changes take effect on the very next request.
        user = await UserRepository(session, context).standing(claims.subject)
        if user is None or user.disabled or claims.generation != user.token_generation:
            raise Unauthorized()
        yield CallerSession(replace(context, role=user.role), session)


async def agent_caller(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    app: AppServices = Depends(services),
) -> AsyncIterator[CallerSession]:
    token = _token(credentials)
    if not has_prefix(token, AGENT_TOKEN_PREFIX):
        raise Unauthorized("this endpoint takes an agent token")
    found = await find_agent_token(app.engine, token_hmac(app.secret_key, token))
    if found is None:
        raise Unauthorized("the agent token is unknown or was revoked")
    context = TenantContext(tenant_id=found.tenant_id, principal="agent", database_id=found.database_id)
    request.state.principal_key = f"agent:{found.database_id}"
    async with tenant_session(app.engine, context) as session:
        yield CallerSession(context, session)
