"""What stands around the domains: health, metrics, rate limits, CORS, proxies, secrets, the real server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from control_plane.app import create_app
from control_plane.settings import Settings
from tests.integration.control_plane.api.conftest import SECRET, SeededTenant, settings_for


def test_health_readiness_and_metrics_answer(client: TestClient, acme: SeededTenant) -> None:
    client.post("/api/v1/auth/login", json={"email": acme.emails["viewer"], "password": "wrong"})
    client.get(f"/api/v1/databases/{acme.id}/queries")  # an id in the path, no token: 401

    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ok"}
    metrics = client.get("/metrics").text
    assert 'optischema_http_requests_total{method="POST",route="/api/v1/auth/login",status="401"}' in metrics
    assert 'route="/api/v1/databases/{database_id}/queries",status="401"' in metrics  # ids stay out of labels
    assert str(acme.id) not in metrics
    assert client.get("/openapi.json").status_code == 200


def test_login_is_rate_limited_per_client_address(metadata_url: str, acme: SeededTenant) -> None:
    with TestClient(create_app(settings_for(metadata_url, login_rate_limit="3/minute"))) as limited:
        answers = [
            limited.post(
                "/api/v1/auth/login", json={"email": acme.emails["viewer"], "password": "x"}
            ).status_code
            for _ in range(5)
        ]

    assert answers == [401, 401, 401, 429, 429]


def test_forwarded_for_counts_only_behind_a_trusted_proxy(metadata_url: str, acme: SeededTenant) -> None:
    body = {"email": acme.emails["viewer"], "password": "x"}
    untrusted = settings_for(metadata_url, login_rate_limit="2/minute")
    trusted = settings_for(metadata_url, login_rate_limit="2/minute", trusted_proxies=["127.0.0.0/8"])

    with TestClient(create_app(untrusted)) as app:
        spoofed = [
            app.post("/api/v1/auth/login", json=body, headers={"X-Forwarded-For": f"10.0.0.{n}"}).status_code
            for n in range(3)
        ]
    assert spoofed[-1] == 429  # a made-up header does not buy a fresh rate-limit key

    with TestClient(create_app(trusted), client=("127.0.0.1", 50000)) as app:
        proxied = [
            app.post(
                "/api/v1/auth/login", json=body, headers={"X-Forwarded-For": f"203.0.113.{n}"}
            ).status_code
            for n in range(3)
        ]
    assert proxied == [401, 401, 401]  # three real clients behind the proxy


def test_cors_is_closed_unless_origins_are_configured(metadata_url: str) -> None:
    preflight = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    with TestClient(create_app(settings_for(metadata_url))) as closed:
        assert "access-control-allow-origin" not in closed.options("/api/v1/me", headers=preflight).headers
    allowed = settings_for(metadata_url, cors_origins=["https://app.example"])
    with TestClient(create_app(allowed)) as opened:
        answer = opened.options("/api/v1/me", headers={**preflight, "Origin": "https://app.example"})
        assert answer.headers["access-control-allow-origin"] == "https://app.example"


@pytest.mark.parametrize("secret", ["", "changeme", "short-secret"])
def test_production_refuses_a_missing_short_or_default_secret(secret: str) -> None:
    with pytest.raises(ValidationError, match="OPTISCHEMA_SECRET_KEY"):
        Settings(env="production", metadata_url="postgresql://x@localhost/x", secret_key=secret)  # type: ignore[arg-type]
    assert Settings(env="development", metadata_url="postgresql://x@localhost/x", secret_key=secret)  # type: ignore[arg-type]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_console_script_serves_the_api_and_stops_on_sigterm(metadata_url: str) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "OPTISCHEMA_METADATA_URL": metadata_url,
        "OPTISCHEMA_SECRET_KEY": SECRET,
        "OPTISCHEMA_PORT": str(port),
        "OPTISCHEMA_WORKERS": "on",
    }
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("optischema-control-plane"))],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not become ready")
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/me", timeout=5).status_code == 401
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    # uvicorn shuts down cleanly, then exits with the signal it caught.
    assert server.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete." in output


def test_the_console_script_refuses_to_start_with_a_default_secret(metadata_url: str) -> None:
    env = {**os.environ, "OPTISCHEMA_METADATA_URL": metadata_url, "OPTISCHEMA_SECRET_KEY": "changeme"}
    env.pop("OPTISCHEMA_ENV", None)

    result = subprocess.run(
        [str(Path(sys.executable).with_name("optischema-control-plane"))],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 1
    assert "OPTISCHEMA_SECRET_KEY must be set" in result.stderr
