"""The control plane served in this test process (uvicorn on a loopback port, in a thread), so that
respx can stand in for the LLM provider: respx patches httpx in-process only. The agent still runs
as a real subprocess against it, and the analysis worker is turned by hand for determinism."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from control_plane.settings import Settings
from tests.e2e.conftest import create_tenant_admin, register_shop
from tests.served_app import serving


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
def deployed(settings: Settings) -> Iterator[InProcessDeployment]:
    email = create_tenant_admin(settings.metadata_url)
    with serving(settings) as base_url:
        access, body = register_shop(base_url, email)
        yield InProcessDeployment(base_url, access, body["id"], body["agent_token"], settings.metadata_url)
