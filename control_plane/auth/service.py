"""Sign-in, refresh-token rotation with reuse detection, and sign-out."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.api.errors import Unauthorized
from control_plane.api.services import AppServices
from control_plane.audit.repository import AuditRepository
from control_plane.auth.lookup_repository import find_login, find_refresh_token
from control_plane.auth.opaque_tokens import REFRESH_TOKEN_PREFIX, generate_token, has_prefix, token_hmac
from control_plane.auth.passwords import DUMMY_HASH, verify_password
from control_plane.auth.repository import RefreshTokenRepository
from control_plane.auth.schemas import TokenPair
from control_plane.db.session import tenant_session
from control_plane.models import User
from control_plane.tenancy.context import TenantContext
from control_plane.users.repository import UserRepository

log = logging.getLogger(__name__)
INVALID_LOGIN = "invalid email or password"


class AuthService:
    def __init__(self, app: AppServices) -> None:
        self._app = app

    async def _issue(
        self, session: AsyncSession, context: TenantContext, user: User, family_id: uuid.UUID
    ) -> TokenPair:
        assert context.user_id is not None
        settings = self._app.settings
        refresh = generate_token(REFRESH_TOKEN_PREFIX)
        await RefreshTokenRepository(session, context).create(
            user_id=context.user_id,
            family_id=family_id,
            digest=token_hmac(self._app.secret_key, refresh),
            expires_at=datetime.now(UTC) + timedelta(seconds=settings.refresh_token_ttl_s),
        )
        access = self._app.keyring.issue(
            subject=context.user_id,
            tenant_id=context.tenant_id,
            role=user.role,
            generation=user.token_generation,
            ttl_s=settings.access_token_ttl_s,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
        return TokenPair(access_token=access, refresh_token=refresh, expires_in=settings.access_token_ttl_s)

    async def login(self, email: str, password: str, client: str | None) -> TokenPair:
        found = await find_login(self._app.engine, email)
        if found is None:
            verify_password(DUMMY_HASH, password)  # same work as a real check: no timing oracle
            log.info("sign-in failed for an unknown email from %s", client)
            raise Unauthorized(INVALID_LOGIN)
        context = TenantContext(tenant_id=found.tenant_id, principal="user", user_id=found.user_id)
        accepted = verify_password(found.password_hash, password) and found.disabled_at is None
        async with tenant_session(self._app.engine, context) as session:
            audit = AuditRepository(session, context)
            if not accepted:
                await audit.record(
                    actor=email.strip().lower(),
                    action="auth.login_failed",
                    object=f"user:{found.user_id}",
                    detail={"client": client, "disabled": found.disabled_at is not None},
                    actor_user_id=found.user_id,
                )
            else:
                await audit.record(
                    actor=email.strip().lower(),
                    action="auth.login",
                    object=f"user:{found.user_id}",
                    detail={"client": client},
                    actor_user_id=found.user_id,
                )
                user = await UserRepository(session, context).get(found.user_id)
                assert user is not None
                return await self._issue(session, context, user, family_id=uuid.uuid4())
        raise Unauthorized(INVALID_LOGIN)  # after the failed attempt was committed to the audit log

    async def refresh(self, token: str) -> TokenPair:
        if not has_prefix(token, REFRESH_TOKEN_PREFIX):
            raise Unauthorized("invalid refresh token")
        found = await find_refresh_token(self._app.engine, token_hmac(self._app.secret_key, token))
        if found is None or found.revoked_at is not None or found.expires_at <= datetime.now(UTC):
            raise Unauthorized("invalid refresh token")
        context = TenantContext(tenant_id=found.tenant_id, principal="user", user_id=found.user_id)
        async with tenant_session(self._app.engine, context) as session:
            tokens = RefreshTokenRepository(session, context)
            user = await UserRepository(session, context).get(found.user_id)
            usable = user is not None and user.disabled_at is None
            if found.rotated_at is None and usable and await tokens.mark_rotated(found.id):
                assert user is not None
                return await self._issue(session, context, user, family_id=found.family_id)
            if usable:
                # A rotated token came back: someone holds a copy. Kill the whole family.
                await tokens.revoke_family(found.family_id)
                await AuditRepository(session, context).record(
                    actor=f"user:{found.user_id}",
                    action="auth.refresh_reuse",
                    object=f"refresh_token_family:{found.family_id}",
                    detail={},
                    actor_user_id=found.user_id,
                )
        raise Unauthorized("invalid refresh token")

    async def logout(self, session: AsyncSession, context: TenantContext) -> None:
        """Signs the user out everywhere: every access and refresh token stops working now."""
        assert context.user_id is not None
        await UserRepository(session, context).invalidate_tokens(context.user_id)
        await RefreshTokenRepository(session, context).revoke_for_user(context.user_id)
        await AuditRepository(session, context).record(
            actor=f"user:{context.user_id}", action="auth.logout", object=f"user:{context.user_id}", detail={},
            actor_user_id=context.user_id,
        )  # fmt: skip
