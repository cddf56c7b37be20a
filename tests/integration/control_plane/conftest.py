"""A migrated metadata database per test, cloned from a template that is migrated once per session.

`metadata_url` is the plain postgresql:// URL as the superuser (setup and inspection only); code
under test reaches the data through `tenant_session`/`lookup_session`, i.e. as `optischema_app`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import cache

import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.auth.passwords import hash_password
from control_plane.db.engine import engine_from_url
from control_plane.db.session import lookup_session
from control_plane.tenants.repository import ProvisionedTenant, provision_tenant

ADMIN_PASSWORD = "correct horse battery staple"


@cache
def admin_password_hash() -> str:
    return hash_password(ADMIN_PASSWORD)  # once per session: Argon2 is slow on purpose


@pytest_asyncio.fixture
async def metadata_engine(metadata_url: str) -> AsyncIterator[AsyncEngine]:
    engine = engine_from_url(metadata_url, pool_size=2)
    try:
        yield engine
    finally:
        await engine.dispose()


async def create_tenant_with_admin(
    engine: AsyncEngine, name: str, email: str | None = None
) -> ProvisionedTenant:
    """A tenant with one admin (password ADMIN_PASSWORD), the way signup and the admin CLI make them."""
    async with lookup_session(engine) as session:
        return await provision_tenant(
            session,
            name=name,
            admin_email=email or f"admin@{name}.example",
            admin_password_hash=admin_password_hash(),
            actor="tests",
        )
