"""A real HTTP server on a loopback port that answers from a script and records every request.

The agent's transport is exercised over real sockets (headers, gzip, connection errors) without the
control plane: each test queues the answers it needs, and anything unscripted is answered the way
the control plane would (snapshots acknowledged idempotently, heartbeats with 204).
"""

from __future__ import annotations

import gzip
import json
import random
import socket
import ssl
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from agent.ship.backoff import RetryPolicy
from agent.ship.transport import ControlPlaneClient, TransportTimeouts

TOKEN = "osa_integration-secret-0123456789"
SNAPSHOTS_PATH = "/api/v1/agent/snapshots"
AUTO: Any = object()  # answer like the control plane would


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any = AUTO
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    raw_body: bytes
    body: bytes  # decompressed when the request said gzip

    def json(self) -> Any:
        return json.loads(self.body)


class ScriptedServer:
    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.script: deque[Reply] = deque()
        self.requests: list[Recorded] = []
        self.stored: set[str] = set()
        self._lock = threading.Lock()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._scheme = "http"
        if tls is not None:
            self._http.socket = tls.wrap_socket(self._http.socket, server_side=True)
            self._scheme = "https"
        # A short poll keeps shutdown (once per test) from costing half a second.
        self._thread = threading.Thread(target=self._http.serve_forever, args=(0.01,), daemon=True)

    @property
    def url(self) -> str:
        return f"{self._scheme}://127.0.0.1:{self._http.server_address[1]}"

    def queue(self, *replies: Reply) -> None:
        with self._lock:
            self.script.extend(replies)

    def snapshot_ids(self) -> list[str]:
        """snapshot_id of every snapshot POST, in arrival order, answered or not."""
        return [r.json()["snapshot_id"] for r in self.requests if r.path == SNAPSHOTS_PATH]

    def answer(self, recorded: Recorded) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.requests.append(recorded)
            reply = self.script.popleft() if self.script else Reply(0)
        status = reply.status or (202 if recorded.path == SNAPSHOTS_PATH else 204)  # as the control plane
        body = reply.body
        if body is AUTO:
            body = self._default_body(recorded, status)
        content = b"" if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
        return status, reply.headers, content

    def _default_body(self, recorded: Recorded, status: int) -> Any:
        if status >= 400:
            return {"detail": {"message": f"scripted {status}", "code": "scripted"}}
        if recorded.path != SNAPSHOTS_PATH or status == 204:
            return None
        snapshot_id = recorded.json()["snapshot_id"]
        with self._lock:
            duplicate = snapshot_id in self.stored or status == 200
            self.stored.add(snapshot_id)
        return {"snapshot_id": snapshot_id, "stored": not duplicate, "duplicate": duplicate}

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=5)


def _handler_for(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            encoded = self.headers.get("Content-Encoding", "").lower() == "gzip"
            recorded = Recorded(
                method=self.command,
                path=self.path,
                headers={name.lower(): value for name, value in self.headers.items()},
                raw_body=raw,
                body=gzip.decompress(raw) if encoded else raw,
            )
            status, headers, content = server.answer(recorded)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if content:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep pytest's output for failures

    return Handler


class FakeClock:
    """sleep() and monotonic() that share a fake time: retries are recorded, never waited for."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def control_plane() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on, so connecting is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


SEED = 7
FAST_TIMEOUTS = TransportTimeouts(connect_s=2.0, read_s=5.0, write_s=5.0, pool_s=2.0)


@pytest.fixture
def make_client(clock: FakeClock) -> Iterator[Callable[..., ControlPlaneClient]]:
    clients: list[ControlPlaneClient] = []

    def make(url: str, *, retry: RetryPolicy | None = None, token: str = TOKEN) -> ControlPlaneClient:
        client = ControlPlaneClient(
            url,
            token,
            timeouts=FAST_TIMEOUTS,
            retry=retry or RetryPolicy(),
            sleep=clock.sleep,
            monotonic=clock.monotonic,
            rng=random.Random(SEED),
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
