"""The control plane through a real PgBouncer (Debian's 1.18, transaction pooling) in front of its
metadata database, as most managed PostgreSQL set-ups have it.

PgBouncer runs with two server connections and SCRAM for a login role that is neither superuser nor
owner, only a member of `optischema_app`, and the control plane runs with
OPTISCHEMA_METADATA_STATEMENT_CACHE=false (no named prepared statements, which a 1.18 PgBouncer
cannot carry between transactions). A real server subprocess (web and background workers, which
store the snapshot inbox) serves a whole tenant flow through it; in-process, two tenants' transactions interleaved
over those two server connections never see each other's rows, and no tenant binding (the role or
`app.tenant_id`) survives on a pooled server connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import text

from control_plane.db.engine import engine_from_url
from control_plane.db.session import TENANT_SETTING, lookup_session, tenant_session
from control_plane.tenancy.context import TenantContext
from deploy.local.control_plane_process import ControlPlaneProcess
from tests.integration.control_plane.api.snapshots import as_json, make_snapshot
from tests.integration.control_plane.conftest import create_tenant_with_admin
from tests.integration.control_plane.inbox import drain_inbox_at
from tests.integration.control_plane.own_metadata import (
    LOGIN_ROLE,
    PGBOUNCER_SERVER_CONNECTIONS,
    Bounced,
    bounced_metadata_cluster,
    tenant_with_database,
)

SERVER_CONNECTIONS = PGBOUNCER_SERVER_CONNECTIONS
CONCURRENT_TRANSACTIONS = 24
# With asyncpg's statement cache on, the second round already fails: a statement prepared in one
# transaction is executed by name on whichever backend PgBouncer picks for the next.
ROUNDS = 3


@pytest.fixture
def bounced() -> Iterator[Bounced]:
    with bounced_metadata_cluster() as found:
        yield found


def test_a_whole_tenant_flow_through_pgbouncer(bounced: Bounced, tmp_path: Path) -> None:
    env = {
        "OPTISCHEMA_METADATA_STATEMENT_CACHE": "false",
        "OPTISCHEMA_WORKERS": "on",
        "OPTISCHEMA_ANALYSIS_INTERVAL_S": "0.2",
        "OPTISCHEMA_WEBHOOK_DELIVERY_INTERVAL_S": "0.2",
        "OPTISCHEMA_MEASURE_INTERVAL_S": "0.2",
    }
    server = ControlPlaneProcess(bounced.app_url(), tmp_path / "control-plane.log", env)
    server.start()
    try:
        with httpx.Client(base_url=server.base_url, timeout=30.0, trust_env=False) as client:
            # optischema-admin (migrations, tenants) talks to the database directly; the server only
            # through PgBouncer.
            acme = tenant_with_database(bounced.metadata.url, client, name="acme")
            globex = tenant_with_database(bounced.metadata.url, client, name="globex")
            for tenant in (acme, globex):
                beat = client.post(
                    "/api/v1/agent/heartbeat", json={"agent_version": "9.9"}, headers=tenant.agent_headers
                )
                assert beat.status_code == 204, beat.text
                snapshot = as_json(make_snapshot(statements=5))
                first = client.post("/api/v1/agent/snapshots", json=snapshot, headers=tenant.agent_headers)
                assert first.status_code == 202, first.text
                drain_inbox_at(bounced.app_url(), metadata_statement_cache=False)  # or the server's workers
                again = client.post("/api/v1/agent/snapshots", json=snapshot, headers=tenant.agent_headers)
                assert again.status_code == 200 and again.json()["duplicate"], again.text
                databases = client.get("/api/v1/databases", headers=tenant.user_headers).json()
                assert [d["id"] for d in databases] == [tenant.database_id] and databases[0][
                    "agent_last_seen_at"
                ]
                queries = client.get(
                    f"/api/v1/databases/{tenant.database_id}/queries", headers=tenant.user_headers
                )
                assert queries.status_code == 200 and len(queries.json()) == 5, queries.text
                analyze = client.post(
                    f"/api/v1/databases/{tenant.database_id}/analyze", headers=tenant.user_headers
                )
                assert analyze.status_code == 202, analyze.text
            # Another tenant's database is a 404, through the pool as directly.
            foreign = client.get(f"/api/v1/databases/{acme.database_id}/queries", headers=globex.user_headers)
            assert foreign.status_code == 404
        log = server.log_tail(200_000)
        assert "Traceback" not in log and "prepared statement" not in log, log[-3000:]
        assert "background job" not in log, log[-3000:]  # every worker turn went through cleanly
    finally:
        server.stop()


@pytest.mark.asyncio
async def test_interleaved_tenants_share_server_connections_but_nothing_else(bounced: Bounced) -> None:
    # Many more client connections than PgBouncer has server connections: transactions of both
    # tenants take turns on the same two backends.
    engine = engine_from_url(
        bounced.app_url(), pool_size=CONCURRENT_TRANSACTIONS, max_overflow=0, statement_cache=False
    )
    try:
        tenants = [await create_tenant_with_admin(engine, name) for name in ("acme", "globex")]
        contexts = [
            TenantContext(tenant_id=t.tenant_id, principal="user", user_id=t.user_id) for t in tenants
        ]

        async def one_transaction(context: TenantContext) -> int:
            async with tenant_session(engine, context) as session:
                bound = await session.scalar(text(f"SELECT current_setting('{TENANT_SETTING}')"))
                await asyncio.sleep(0)  # let the other tenant's transactions in between statements
                seen = set((await session.execute(text("SELECT tenant_id FROM users"))).scalars())
                backend: int = await session.scalar(text("SELECT pg_backend_pid()"))
            assert bound == str(context.tenant_id)
            assert seen == {context.tenant_id}
            return backend

        backends: list[int] = []
        for _round in range(ROUNDS):  # pooled client connections come back to a backend of chance
            backends += await asyncio.gather(
                *(one_transaction(contexts[n % 2]) for n in range(CONCURRENT_TRANSACTIONS))
            )
        assert len(set(backends)) <= SERVER_CONNECTIONS  # so the tenants did share backends

        async with lookup_session(engine) as session:  # no tenant bound: row-level security hides all
            assert await session.scalar(text("SELECT count(*) FROM users")) == 0
    finally:
        await engine.dispose()

    # What a pooled server connection carries into the next client's transaction: nothing.
    with psycopg.connect(bounced.app_url(), autocommit=True) as conn:
        for _ in range(SERVER_CONNECTIONS * 3):
            row = conn.execute(
                f"SELECT current_setting('{TENANT_SETTING}', true), current_user, pg_backend_pid()"
            ).fetchone()
            assert row is not None
            setting, user, backend = row
            assert setting in ("", None) and user == LOGIN_ROLE
            assert backend in backends
