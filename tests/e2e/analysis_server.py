"""The control plane served in this test process (uvicorn on a loopback port, in a thread), so that
respx can stand in for the LLM provider: respx patches httpx in-process only. The agent still runs
as a real subprocess against it, and the analysis worker is turned by hand for determinism."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from control_plane.app import create_app
from control_plane.settings import Settings
from deploy.local.throwaway_cluster import free_port
from tests.e2e.conftest import create_tenant_admin, register_shop

START_TIMEOUT_S = 30.0


@dataclass
class InProcessDeployment:
    base_url: str
    access_token: str
    database_id: str
    agent_token: str
    metadata_url: str  # the server runs no workers: a test stores its snapshot inbox from here

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url + "/api/v1",
            headers={"Authorization": f"Bearer {self.access_token}"},
            timeout=30.0,
            trust_env=False,
        )

    def get(self, path: str) -> Any:
        with self.api() as client:
            response = client.get(path)
        assert response.status_code == 200, response.text
        return response.json()


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """The app on a free loopback port for the length of the block; its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, run_workers=False), host="127.0.0.1", port=port, log_level="warning"
        )
    )
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
        thread.join(timeout=30)


@contextmanager
def deployed(settings: Settings) -> Iterator[InProcessDeployment]:
    email = create_tenant_admin(settings.metadata_url)
    with serving(settings) as base_url:
        access, body = register_shop(base_url, email)
        yield InProcessDeployment(base_url, access, body["id"], body["agent_token"], settings.metadata_url)
