"""The API fixtures, an app allowed to call a loopback webhook receiver, and the receiver."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from control_plane.app import create_app
from tests.integration.control_plane.api.conftest import acme, client, globex, settings_for

__all__ = ["acme", "client", "globex"]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A webhook endpoint on 127.0.0.1 that records every request and answers `statuses` in turn
    (then 200)."""

    url: str
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(state.statuses.pop(0) if state.statuses else 200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def notifying(metadata_url: str) -> Iterator[TestClient]:
    settings = settings_for(
        metadata_url,
        allow_private_outbound=True,
        webhook_backoff_s=0,  # a failed delivery is due again at once
        webhook_max_attempts=3,
        notify_min_improvement_pct=50.0,
        measure_window_s=300,
        measure_min_calls=5,
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client
