"""A migrated metadata database per test, cloned from a template that is migrated once per session.

`metadata_url` is the plain postgresql:// URL as the superuser (setup and inspection only); code
under test reaches the data through `tenant_session`/`lookup_session`, i.e. as `optischema_app`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from functools import cache
from pathlib import Path

import pytest
import pytest_asyncio
from psycopg import sql
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.auth.passwords import hash_password
from control_plane.db.engine import engine_from_url
from control_plane.db.session import lookup_session
from control_plane.job_kinds import register_job_kinds
from control_plane.tenants.repository import ProvisionedTenant, provision_tenant
from deploy.local.throwaway_cluster import ThrowawayCluster
from tests.conftest import unique_name

ADMIN_PASSWORD = "correct horse battery staple"
ADMIN_COMMAND = str(Path(sys.executable).with_name("optischema-admin"))


@cache
def admin_password_hash() -> str:
    return hash_password(ADMIN_PASSWORD)  # once per session: Argon2 is slow on purpose


@pytest.fixture(autouse=True, scope="session")
def job_kinds_registered() -> None:
    """Tests that queue or settle jobs without the app (which registers them) see the same kinds."""
    register_job_kinds()


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


def run_admin(
    *args: str, url: str | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The installed `optischema-admin` console script, run as an operator would: none of the caller's
    OPTISCHEMA_* settings, only the metadata URL (if given) and `env`."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OPTISCHEMA_")}
    if url is not None:
        environment["OPTISCHEMA_METADATA_URL"] = url
    environment |= env or {}
    return subprocess.run(
        [ADMIN_COMMAND, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.fixture
def owner_database(ready_cluster: ThrowawayCluster) -> Iterator[tuple[str, str]]:
    """(owner URL, superuser URL) of an empty database owned by a role that is no superuser: how
    production should run migrations."""
    role, database = unique_name("owner"), unique_name("metadata")
    with ready_cluster.connect() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEROLE PASSWORD 'owner'").format(sql.Identifier(role)))
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(role))
        )
    try:
        yield ready_cluster.url(database, user=role, password="owner"), ready_cluster.url(database)
    finally:
        with ready_cluster.connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
