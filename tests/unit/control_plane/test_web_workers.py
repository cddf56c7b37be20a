"""Several web worker processes: how many, their share of the pool, and a listener that keeps TCP_NODELAY."""

from __future__ import annotations

import asyncio
import os
import socket

import pytest
import uvicorn

from control_plane.server import _pool_share, _tcp_listener
from control_plane.settings import Settings

SECRET = "a-secret-that-is-long-enough-for-production-use"


def settings(**values: object) -> Settings:
    return Settings(metadata_url="postgresql://localhost/x", secret_key=SECRET, **values)  # type: ignore[arg-type]


def test_production_runs_a_worker_per_two_cores_up_to_four_and_development_one() -> None:
    assert settings().web_workers == max(1, min(4, (os.cpu_count() or 1) // 2))
    assert settings(env="development").web_workers == 1
    assert settings(web_concurrency=3).web_workers == 3
    with pytest.raises(ValueError, match="web_concurrency"):
        settings(web_concurrency=0)


def test_the_workers_share_the_configured_pool() -> None:
    assert [_pool_share(10, workers) for workers in (1, 2, 3, 4)] == [10, 5, 4, 3]
    assert _pool_share(2, 4) == 2  # never fewer than two connections per worker


def test_connections_accepted_on_the_workers_listener_have_nagle_off() -> None:
    """Otherwise each keep-alive response after the first waits ~40 ms for a delayed ACK."""
    listener = _tcp_listener(uvicorn.Config("control_plane.server:worker_app", host="127.0.0.1", port=0))
    accepted: list[int] = []

    async def main() -> None:
        def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            sock = writer.get_extra_info("socket")
            accepted.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(on_connection, sock=listener)
        async with server:
            _, writer = await asyncio.open_connection(*listener.getsockname()[:2])
            for _ in range(100):
                if accepted:
                    break
                await asyncio.sleep(0.01)
            writer.close()

    try:
        asyncio.run(main())
    finally:
        listener.close()
    assert listener.proto == socket.IPPROTO_TCP
    assert accepted == [1]
