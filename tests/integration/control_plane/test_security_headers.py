"""Security headers on every response, over HTTP from the real server: API JSON, errors, the dashboard,
static files, 404s and 503s; HSTS outside development only.

The server's metadata URL points at a loopback port nobody listens on, so every route that needs the
database answers 503 (see test_metadata_outage.py) while the others answer as usual.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from control_plane.app import create_app
from control_plane.edges.security_headers import CONTENT_SECURITY_POLICY, HSTS
from control_plane.settings import Settings
from deploy.local.control_plane_process import ControlPlaneProcess
from deploy.local.throwaway_cluster import free_port

EXPECTED = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# (method, path, expected status): one of each kind of response.
SAMPLE = [
    ("GET", "/", 200),  # the dashboard
    ("GET", "/login", 200),
    ("GET", "/static/app.js", 200),
    ("GET", "/static/no-such-file.js", 404),
    ("GET", "/no/such/route", 404),
    ("GET", "/healthz", 200),  # API JSON
    ("GET", "/openapi.json", 200),
    ("GET", "/metrics", 200),
    ("GET", "/readyz", 503),
    ("GET", "/api/v1/databases", 401),  # no token
    ("POST", "/api/v1/auth/login", 422),  # no body
    ("GET", "/api/v1/agent/jobs", 401),
]
UNAVAILABLE = ("POST", "/api/v1/auth/login", 503)


def _server(tmp_path: Path, env: str) -> Iterator[ControlPlaneProcess]:
    nowhere = f"postgresql://optischema@127.0.0.1:{free_port()}/metadata"
    server = ControlPlaneProcess(nowhere, tmp_path / f"control-plane-{env}.log", {"OPTISCHEMA_ENV": env})
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def production_server(tmp_path: Path) -> Iterator[ControlPlaneProcess]:
    yield from _server(tmp_path, "production")


@pytest.fixture
def development_server(tmp_path: Path) -> Iterator[ControlPlaneProcess]:
    yield from _server(tmp_path, "development")


def _responses(server: ControlPlaneProcess) -> Iterator[tuple[str, httpx.Response]]:
    with httpx.Client(base_url=server.base_url, timeout=30.0, trust_env=False) as client:
        for method, path, status in SAMPLE:
            response = client.request(method, path)
            assert response.status_code == status, (path, response.status_code, response.text)
            yield path, response
        method, path, status = UNAVAILABLE
        response = client.request(method, path, json={"email": "a@b.example", "password": "x"})
        assert response.status_code == status, response.text
        yield f"{path} (503)", response


def test_every_kind_of_response_carries_the_headers(production_server: ControlPlaneProcess) -> None:
    for path, response in _responses(production_server):
        for name, value in EXPECTED.items():
            assert response.headers.get(name) == value, (path, name)
        assert response.headers.get("Strict-Transport-Security") == HSTS, path


def test_development_relaxes_only_hsts(development_server: ControlPlaneProcess) -> None:
    for path, response in _responses(development_server):
        for name, value in EXPECTED.items():
            assert response.headers.get(name) == value, (path, name)
        assert "Strict-Transport-Security" not in response.headers, path


def test_an_unhandled_500_carries_them_too() -> None:
    settings = Settings(metadata_url="postgresql://nobody@127.0.0.1:1/none", secret_key=SecretStr("s" * 48))
    app: FastAPI = create_app(settings, run_workers=False)

    async def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
        metrics = client.get("/metrics").text
    assert response.status_code == 500
    # The request metrics count it as what it was answered with.
    assert 'optischema_http_requests_total{method="GET",route="/boom",status="500"}' in metrics
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Strict-Transport-Security"] == HSTS
