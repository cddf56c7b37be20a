"""The metadata database goes away and comes back: every route answers 503 with Retry-After meanwhile,
never a 500 or a hang, and the same server process serves again afterwards without a restart.

The HTTP test runs the real `optischema-control-plane` (with its background workers, which also
store the snapshot inbox) over a metadata database on a cluster of its own, which it stops and
starts again. The in-process tests reach the two failures an outage cannot produce on cue: a pooled
connection killed mid-transaction (`pg_terminate_backend`, as a fast shutdown does) and a pool with
no free connection.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.db.availability import MetadataUnavailable
from control_plane.db.engine import engine_from_url
from control_plane.db.session import lookup_session
from control_plane.ingestion.inbox_worker import store_inbox
from control_plane.settings import Settings
from deploy.local.control_plane_process import ControlPlaneProcess
from deploy.local.throwaway_cluster import free_port
from tests.integration.control_plane.api.snapshots import as_json, make_snapshot
from tests.integration.control_plane.inbox import drain_inbox_at
from tests.integration.control_plane.own_metadata import (
    OwnMetadata,
    Tenant,
    own_metadata_cluster,
    tenant_with_database,
)

RETRY_AFTER_S = "7"
RECOVERY_DEADLINE_S = 60.0
SERVER_ENV = {
    "OPTISCHEMA_UNAVAILABLE_RETRY_AFTER_S": RETRY_AFTER_S,
    "OPTISCHEMA_METADATA_CONNECT_TIMEOUT_S": "2",
    "OPTISCHEMA_DB_POOL_TIMEOUT_S": "2",
    # Workers on, waking often, so that they run into the outage and must outlive it.
    "OPTISCHEMA_WORKERS": "on",
    "OPTISCHEMA_ANALYSIS_INTERVAL_S": "0.2",
    "OPTISCHEMA_WEBHOOK_DELIVERY_INTERVAL_S": "0.2",
    "OPTISCHEMA_MEASURE_INTERVAL_S": "0.2",
}


@pytest.fixture
def own_metadata() -> Iterator[OwnMetadata]:
    with own_metadata_cluster() as metadata:
        yield metadata


def _requests(tenant: Tenant) -> list[tuple[str, str, dict[str, object] | None, dict[str, str]]]:
    """(method, path, JSON body, headers): user, agent and anonymous routes that need the database."""
    return [
        ("GET", "/api/v1/databases", None, tenant.user_headers),
        ("GET", "/api/v1/me", None, tenant.user_headers),
        ("GET", f"/api/v1/databases/{tenant.database_id}/queries", None, tenant.user_headers),
        ("POST", "/api/v1/auth/login", {"email": tenant.email, "password": "whatever it is"}, {}),
        ("POST", "/api/v1/agent/heartbeat", {"agent_version": "1"}, tenant.agent_headers),
        ("POST", "/api/v1/agent/snapshots", as_json(make_snapshot()), tenant.agent_headers),
        ("GET", "/api/v1/agent/jobs", None, tenant.agent_headers),
    ]


def _send(
    client: httpx.Client, request: tuple[str, str, dict[str, object] | None, dict[str, str]]
) -> httpx.Response:
    method, path, body, headers = request
    return client.request(method, path, json=body, headers=headers)


def test_every_route_answers_503_while_the_metadata_database_is_away(
    own_metadata: OwnMetadata, tmp_path: Path
) -> None:
    server = ControlPlaneProcess(own_metadata.url, tmp_path / "control-plane.log", SERVER_ENV)
    server.start()
    try:
        # A client timeout well past the connect timeout: a hang would show as a transport error.
        with httpx.Client(base_url=server.base_url, timeout=30.0, trust_env=False) as client:
            tenant = tenant_with_database(own_metadata.url, client)
            requests = _requests(tenant)
            assert client.get("/api/v1/databases", headers=tenant.user_headers).status_code == 200

            own_metadata.cluster.executor.stop()
            try:
                for _round in range(3):  # pooled connections first, then fresh connects refused
                    for request in requests:
                        response = _send(client, request)
                        assert response.status_code == 503, (request[1], response.status_code, response.text)
                        assert response.headers["Retry-After"] == RETRY_AFTER_S, request[1]
                        assert response.json()["code"] == "metadata_unavailable", request[1]
                assert client.get("/readyz").status_code == 503
                assert client.get("/healthz").status_code == 200  # the process itself is fine
            finally:
                own_metadata.cluster.executor.start()

            _wait_until_ready(client)
            assert client.get("/api/v1/databases", headers=tenant.user_headers).status_code == 200
            assert _send(client, requests[4]).status_code == 204  # heartbeat
            stored = _send(client, requests[5])  # a fresh snapshot, into the inbox
            assert stored.status_code == 202, stored.text
            drain_inbox_at(own_metadata.url)  # stored by the server's workers or, first, by this test
            fresh = tenant_with_database(own_metadata.url, client, name="after")  # logins, writes
            assert client.get("/api/v1/databases", headers=fresh.user_headers).json()[0]["name"] == "shop"
        log = server.log_tail(200_000)
        assert "500 Internal Server Error" not in log
        assert "the metadata database is unavailable" in log  # the workers noticed, logged, lived on
        assert server._process is not None and server._process.poll() is None  # the same process
    finally:
        server.stop()


def _wait_until_ready(client: httpx.Client) -> None:
    deadline = time.monotonic() + RECOVERY_DEADLINE_S
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, "the control plane did not become ready again"
        time.sleep(0.1)


@pytest.mark.asyncio
async def test_a_connection_killed_mid_transaction_is_unavailable(metadata_url: str) -> None:
    engine = engine_from_url(metadata_url, pool_size=1, max_overflow=0)
    try:
        with pytest.raises(MetadataUnavailable) as raised:
            async with lookup_session(engine) as session:
                backend = await session.scalar(text("SELECT pg_backend_pid()"))
                with psycopg.connect(metadata_url, autocommit=True) as admin:
                    admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
                await session.execute(text("SELECT 1"))
        assert raised.value.reason  # the driver's class name, never its message
        async with lookup_session(engine) as session:  # the pool replaced the dead connection
            assert await session.scalar(text("SELECT 1")) == 1
    finally:
        await engine.dispose()


class Clock:
    """The pool's clock (engine_from_url's `clock`), moved by hand: no test waits out the ping window."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


PING_IDLE_S = 1.0


@asynccontextmanager
async def one_connection_pool(
    metadata_url: str, ping_idle_s: float
) -> AsyncIterator[tuple[AsyncEngine, Clock]]:
    """An engine whose pool holds one connection, on a clock moved by hand."""
    clock = Clock()
    engine = engine_from_url(metadata_url, pool_size=1, max_overflow=0, ping_idle_s=ping_idle_s, clock=clock)
    try:
        yield engine, clock
    finally:
        await engine.dispose()


async def given_back_and_killed(engine: AsyncEngine, metadata_url: str) -> int:
    """Uses the pool's one connection, gives it back, and kills its backend (as a restart does):
    the backend's pid."""
    killed = await session_backend_pid(engine)
    with psycopg.connect(metadata_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (killed,))
    return killed


async def session_backend_pid(engine: AsyncEngine) -> int:
    """The backend pid of the connection a session takes from the pool."""
    async with lookup_session(engine) as session:
        return int(await session.scalar(text("SELECT pg_backend_pid()")))


@pytest.mark.asyncio
async def test_a_pooled_connection_killed_while_idle_is_replaced_before_a_request_uses_it(
    metadata_url: str,
) -> None:
    # What a failover, a restart or an idle-connection reaper leaves in the pool: the checkout's ping
    # finds it dead and the pool connects afresh, so the request never sees it.
    async with one_connection_pool(metadata_url, PING_IDLE_S) as (engine, clock):
        killed = await given_back_and_killed(engine, metadata_url)
        clock.now += PING_IDLE_S  # idle for the whole window: asked before it is handed out
        assert await session_backend_pid(engine) != killed


@pytest.mark.asyncio
async def test_a_connection_given_back_within_the_ping_window_is_handed_out_unasked(
    metadata_url: str,
) -> None:
    # The round trip a busy server saves on every request (control_plane/db/engine.py, CheckoutPing),
    # and its price: a connection that dies within the window fails the one request that takes it,
    # as unavailable (a 503), and the next request gets a fresh connection.
    async with one_connection_pool(metadata_url, PING_IDLE_S) as (engine, clock):
        killed = await given_back_and_killed(engine, metadata_url)
        clock.now += PING_IDLE_S / 2
        with pytest.raises(MetadataUnavailable):
            await session_backend_pid(engine)
        assert await session_backend_pid(engine) != killed


@pytest.mark.asyncio
async def test_with_no_ping_window_every_checkout_is_asked(metadata_url: str) -> None:
    async with one_connection_pool(metadata_url, ping_idle_s=0) as (engine, _clock):
        killed = await given_back_and_killed(engine, metadata_url)
        assert await session_backend_pid(engine) != killed  # the same instant, and still replaced


@pytest.mark.asyncio
async def test_the_pool_hands_out_the_connection_returned_last(metadata_url: str) -> None:
    # A worker's batches then run on one warm backend, not on each pooled connection in turn
    # (control_plane/db/engine.py: the pool is last-in-first-out).
    engine = engine_from_url(metadata_url, pool_size=3, max_overflow=0)
    try:
        # Closed in reverse: `second` goes back to the pool first, `first` last.
        async with lookup_session(engine) as first, lookup_session(engine) as second:
            returned_last = await first.scalar(text("SELECT pg_backend_pid()"))
            returned_first = await second.scalar(text("SELECT pg_backend_pid()"))
        assert returned_first != returned_last
        for _ in range(3):
            async with lookup_session(engine) as session:
                assert await session.scalar(text("SELECT pg_backend_pid()")) == returned_last
    finally:
        await engine.dispose()


@pytest.mark.asyncio
async def test_a_pool_with_no_free_connection_is_unavailable(metadata_url: str) -> None:
    engine = engine_from_url(metadata_url, pool_size=1, max_overflow=0, pool_timeout_s=0.2)
    try:
        async with lookup_session(engine) as holder:
            await holder.execute(text("SELECT 1"))
            with pytest.raises(MetadataUnavailable, match="TimeoutError"):
                async with lookup_session(engine) as waiting:
                    await waiting.execute(text("SELECT 1"))
    finally:
        await engine.dispose()


@pytest.mark.asyncio
async def test_a_worker_storing_the_inbox_finds_an_outage_it_can_log_and_retry() -> None:
    # What the background loop (control_plane.workers.runner) logs as one line and retries.
    nowhere = f"postgresql://optischema@127.0.0.1:{free_port()}/metadata"
    settings = Settings(metadata_url=nowhere, env="development", workers="only")
    engine = engine_from_url(nowhere, pool_size=1, max_overflow=0)
    try:
        with pytest.raises(MetadataUnavailable) as raised:
            await store_inbox(engine, settings)
        assert raised.value.reason == "ConnectionRefusedError"
    finally:
        await engine.dispose()
