"""Rate limits in a real Redis (Debian's redis-server, started here on a free port) shared by two real
control-plane servers: sign-in throttling and the expensive-endpoint limit count the requests of
both; with Redis stopped or hung every request still answers, each server counting on its own (the
limits fail closed onto per-process counting, see control_plane.edges.rate_limit_storage); and with
Redis back the shared counts resume without a restart.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from deploy.local.control_plane_process import ControlPlaneProcess
from deploy.local.redis_server import RedisServer, redis_server
from tests.integration.control_plane.own_metadata import Tenant, tenant_with_database

LOGIN_LIMIT = 6
EXPENSIVE_LIMIT = 3
RETRY_S = 0.3  # how soon a server tries Redis again after a failure
STORAGE_TIMEOUT_S = 0.5


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


@pytest.fixture
def servers(redis: RedisServer, metadata_url: str, tmp_path: Path) -> Iterator[list[httpx.Client]]:
    env = {
        "OPTISCHEMA_SECRET_KEY": secrets.token_urlsafe(48),  # one deployment: tokens good on both
        "OPTISCHEMA_RATE_LIMIT_STORAGE": redis.url,
        "OPTISCHEMA_RATE_LIMIT_STORAGE_RETRY_S": str(RETRY_S),
        "OPTISCHEMA_RATE_LIMIT_STORAGE_TIMEOUT_S": str(STORAGE_TIMEOUT_S),
        "OPTISCHEMA_LOGIN_RATE_LIMIT": f"{LOGIN_LIMIT}/minute",
        "OPTISCHEMA_EXPENSIVE_RATE_LIMIT": f"{EXPENSIVE_LIMIT}/minute",
    }
    started = [ControlPlaneProcess(metadata_url, tmp_path / f"server-{n}.log", env) for n in (1, 2)]
    clients: list[httpx.Client] = []
    try:
        for server in started:
            server.start()
            clients.append(httpx.Client(base_url=server.base_url, timeout=30.0, trust_env=False))
        yield clients
    finally:
        for client in clients:
            client.close()
        for server in started:
            assert "Traceback" not in server.log_tail(100_000), server.log_tail()
            server.stop()


def _bad_login(client: httpx.Client, tenant: Tenant) -> int:
    response = client.post("/api/v1/auth/login", json={"email": tenant.email, "password": "a wrong guess"})
    return response.status_code


def _alternating_logins(clients: list[httpx.Client], tenant: Tenant, count: int) -> list[int]:
    return [_bad_login(clients[n % 2], tenant) for n in range(count)]


def test_limits_hold_across_servers_and_outlive_redis(
    servers: list[httpx.Client], metadata_url: str, redis: RedisServer
) -> None:
    # One story on one pair of servers (starting them is the slow part): shared counts, a hung
    # Redis, a stopped one, and Redis back.
    tenant = tenant_with_database(metadata_url, servers[0])  # one sign-in, counted like any other
    answers = _alternating_logins(servers, tenant, LOGIN_LIMIT + 1)
    assert answers == [401] * (LOGIN_LIMIT - 1) + [429, 429]
    assert _bad_login(servers[1], tenant) == 429 and _bad_login(servers[0], tenant) == 429

    analyze = f"/api/v1/databases/{tenant.database_id}/analyze"
    statuses = [servers[n % 2].post(analyze, headers=tenant.user_headers).status_code for n in range(5)]
    assert statuses == [202] * EXPENSIVE_LIMIT + [429, 429]

    redis.pause()  # hung: each server waits out the storage timeout once, then counts alone
    try:
        for client in servers:
            assert client.post(analyze, headers=tenant.user_headers).status_code == 202
            assert client.get("/api/v1/databases", headers=tenant.user_headers).status_code == 200
    finally:
        redis.resume()

    redis.stop()  # gone: every request answers, and each server throttles sign-ins on its own
    for client in servers:
        answers = [_bad_login(client, tenant) for _ in range(LOGIN_LIMIT + 1)]
        assert answers == [401] * LOGIN_LIMIT + [429], answers

    redis.start()  # same port, empty: the shared moving window starts over
    time.sleep(RETRY_S * 2)  # both servers are due to try Redis again
    answers = _alternating_logins(servers, tenant, LOGIN_LIMIT + 2)
    assert answers == [401] * LOGIN_LIMIT + [429, 429]  # shared again: six for both, not six each
