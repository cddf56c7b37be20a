"""A migrated metadata database per test, cloned from a template that is migrated once per session.

`metadata_url` is the plain postgresql:// URL as the superuser (setup and inspection only); code
under test reaches the data through `tenant_session`/`lookup_session`, i.e. as `optischema_app`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from functools import cache

import psycopg
import pytest
import pytest_asyncio
from psycopg import sql
from pytest_postgresql.retry import retry
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.auth.passwords import hash_password
from control_plane.db.engine import engine_from_url
from control_plane.db.session import lookup_session
from control_plane.tenants.repository import ProvisionedTenant, provision_tenant
from deploy.local.throwaway_cluster import ThrowawayCluster
from migrations.runner import upgrade_to_head

TEMPLATE = "metadata_template"
ADMIN_PASSWORD = "correct horse battery staple"


@cache
def admin_password_hash() -> str:
    return hash_password(ADMIN_PASSWORD)  # once per session: Argon2 is slow on purpose


def unique_name(prefix: str) -> str:
    """Databases and roles outlive a test's failure; every test gets names of its own."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def ready_cluster(pg_cluster: ThrowawayCluster) -> ThrowawayCluster:
    # pg_ctl -w returns when the postmaster runs, a moment before it accepts connections.
    retry(lambda: pg_cluster.connect().close(), possible_exception=psycopg.OperationalError)
    return pg_cluster


@pytest.fixture(scope="session")
def migrated_template(ready_cluster: ThrowawayCluster) -> str:
    upgrade_to_head(ready_cluster.create_database(TEMPLATE))
    with ready_cluster.connect() as conn:
        # No connections either: CREATE DATABASE ... TEMPLATE fails while anyone is connected to it.
        conn.execute(
            sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false").format(
                sql.Identifier(TEMPLATE)
            )
        )
    return TEMPLATE


@pytest.fixture
def fresh_database(ready_cluster: ThrowawayCluster) -> Iterator[str]:
    """An empty database's name (not migrated), dropped after the test."""
    name = unique_name("metadata")
    ready_cluster.create_database(name)
    try:
        yield name
    finally:
        with ready_cluster.connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def metadata_url(pg_cluster: ThrowawayCluster, migrated_template: str) -> Iterator[str]:
    name = unique_name("metadata")
    with pg_cluster.connect() as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(migrated_template)
            )
        )
    try:
        yield pg_cluster.url(name)
    finally:
        with pg_cluster.connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


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
