"""A control plane that is down or misconfigured: something on its port answers every request with one status."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _FixedAnswer(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.server.requests.append(f"{self.command} {self.path}")  # type: ignore[attr-defined]
        status: int = self.server.status  # type: ignore[attr-defined]
        body = (
            b'{"detail": "unavailable"}' if status >= 500 else b'{"detail": "invalid or revoked agent token"}'
        )
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def answering(port: int, status: int) -> Iterator[list[str]]:
    """Every request to 127.0.0.1:`port` gets `status` until the block ends; yields the requests seen."""
    server = ThreadingHTTPServer(("127.0.0.1", port), _FixedAnswer)
    server.requests = []  # type: ignore[attr-defined]
    server.status = status  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.requests  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
