"""The control plane served by uvicorn in a thread of the test process, on a free loopback port: what
a browser, an agent subprocess or an event-stream client needs (a real socket), with the test still
able to mock the LLM provider in-process (respx)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from control_plane.app import create_app
from control_plane.server import EVENT_LOOP, HTTP_PARSER
from control_plane.settings import Settings
from deploy.local.throwaway_cluster import free_port

START_TIMEOUT_S = 30.0
# An open event stream (the dashboard's live updates) keeps its connection until the browser goes,
# which is often after the server in a test's teardown: uvicorn's graceful shutdown would wait for it
# without end, and the thread join below would spend its whole timeout on every browser test.
GRACEFUL_SHUTDOWN_S = 1
STOP_TIMEOUT_S = 30.0


@contextmanager
def serving(settings: Settings, *, run_workers: bool = False) -> Iterator[str]:
    """The app on a free loopback port for the length of the block; its base URL."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings, run_workers=run_workers),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        loop=EVENT_LOOP,
        http=HTTP_PARSER,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="control-plane", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the in-process control plane did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=STOP_TIMEOUT_S)
