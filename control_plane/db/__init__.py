"""The metadata database: the async engine and the tenant-scoped transactions every query runs in."""

from control_plane.db.engine import (
    async_connect_args,
    async_database_url,
    create_engine,
    engine_from_url,
    sync_database_url,
)
from control_plane.db.session import (
    APP_ROLE,
    bind_new_tenant,
    lookup_session,
    sqlstate,
    tenant_session,
)

__all__ = [
    "APP_ROLE",
    "async_connect_args",
    "async_database_url",
    "bind_new_tenant",
    "create_engine",
    "engine_from_url",
    "lookup_session",
    "sqlstate",
    "sync_database_url",
    "tenant_session",
]
