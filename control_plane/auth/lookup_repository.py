"""Lookups that happen before the tenant is known, through the narrow SECURITY DEFINER functions.

Sign-in by email, refresh-token and agent-token lookups: the runtime role cannot read these
tables across tenants, so each goes through one named function created by the migrations.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.db.session import lookup_session


@dataclass(frozen=True)
class FoundLogin:
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    password_hash: str
    role: str
    disabled_at: datetime | None


@dataclass(frozen=True)
class FoundRefreshToken:
    tenant_id: uuid.UUID
    id: uuid.UUID
    user_id: uuid.UUID
    family_id: uuid.UUID
    expires_at: datetime
    rotated_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class FoundAgentToken:
    tenant_id: uuid.UUID
    database_id: uuid.UUID
    token_id: uuid.UUID


async def _one_row(engine: AsyncEngine, query: str, parameters: dict[str, object]) -> Row[Any] | None:
    async with lookup_session(engine) as session:
        return (await session.execute(text(query), parameters)).first()


async def find_login(engine: AsyncEngine, email: str) -> FoundLogin | None:
    row = await _one_row(
        engine,
        "SELECT tenant_id, user_id, password_hash, role, disabled_at FROM optischema_login_lookup(:email)",
        {"email": email.strip().lower()},
    )
    return None if row is None else FoundLogin(**row._asdict())


async def find_refresh_token(engine: AsyncEngine, digest: bytes) -> FoundRefreshToken | None:
    row = await _one_row(
        engine,
        "SELECT tenant_id, id, user_id, family_id, expires_at, rotated_at, revoked_at "
        "FROM optischema_refresh_token_lookup(:h)",
        {"h": digest},
    )
    return None if row is None else FoundRefreshToken(**row._asdict())


async def find_agent_token(engine: AsyncEngine, digest: bytes) -> FoundAgentToken | None:
    row = await _one_row(
        engine,
        "SELECT tenant_id, database_id, token_id, revoked_at FROM optischema_agent_token_lookup(:h)",
        {"h": digest},
    )
    if row is None or row.revoked_at is not None:
        return None
    return FoundAgentToken(row.tenant_id, row.database_id, row.token_id)
