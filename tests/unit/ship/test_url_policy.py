"""Which --api-url values the agent accepts: TLS everywhere except to the machine itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.ship.transport import USER_AGENT, ControlPlaneClient
from agent.ship.url_policy import api_base_url, is_loopback_host
from shared.version import PRODUCT_VERSION

TOKEN = "osa_Secret-Token-123"


@pytest.mark.parametrize(
    ("api_url", "expected"),
    [
        ("https://optischema.example.com", "https://optischema.example.com/api/v1"),
        ("https://optischema.example.com/", "https://optischema.example.com/api/v1"),
        ("HTTPS://optischema.example.com:8443", "https://optischema.example.com:8443/api/v1"),
        ("https://example.com/optischema", "https://example.com/optischema/api/v1"),
        ("https://example.com/api/v1", "https://example.com/api/v1"),  # the root was meant
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000/api/v1"),
        ("http://127.8.9.10:8000", "http://127.8.9.10:8000/api/v1"),
        ("http://[::1]:8000", "http://[::1]:8000/api/v1"),
        ("http://localhost:8000", "http://localhost:8000/api/v1"),
        ("http://LOCALHOST", "http://LOCALHOST/api/v1"),
    ],
)
def test_accepted_urls(api_url: str, expected: str) -> None:
    assert api_base_url(api_url) == expected


@pytest.mark.parametrize(
    ("api_url", "complaint"),
    [
        ("http://example.com", "unencrypted"),
        ("http://10.0.0.5:8000", "unencrypted"),
        ("http://128.0.0.1", "unencrypted"),
        ("http://localhost.example.com", "unencrypted"),
        ("ftp://127.0.0.1", "https://"),
        ("file:///etc/passwd", "https://"),
        ("optischema.example.com", "https://"),
        ("https://", "no host"),
        ("https://example.com:notaport", "not a valid URL"),
        ("https://example.com/?x=1", "server root"),
    ],
)
def test_refused_urls(api_url: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        api_base_url(api_url)


def test_credentials_in_the_url_are_refused_without_being_repeated() -> None:
    with pytest.raises(ValueError, match="user name or password") as raised:
        api_base_url("https://agent:hunter2@example.com")
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        *[(host, True) for host in ("127.0.0.1", "127.255.0.1", "::1", "localhost")],
        *[(host, False) for host in ("0.0.0.0", "10.0.0.1", "example.com", "::")],
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_the_client_refuses_plain_http_to_another_host() -> None:
    with pytest.raises(ValueError, match="unencrypted"):
        ControlPlaneClient("http://example.com", TOKEN)


@pytest.mark.parametrize("token", ["", "   ", "has space", "line\nbreak"])
def test_the_client_refuses_a_malformed_token_without_repeating_it(token: str) -> None:
    with pytest.raises(ValueError, match="agent token") as raised:
        ControlPlaneClient("https://example.com", token)
    assert token.strip() == "" or token not in str(raised.value)


def test_the_client_refuses_an_unreadable_ca_bundle(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="CA bundle"):
        ControlPlaneClient("https://example.com", TOKEN, ca_bundle=tmp_path / "missing.pem")


def test_the_client_builds_its_base_url_and_user_agent() -> None:
    with ControlPlaneClient("https://optischema.example.com", f" {TOKEN}\n") as client:
        assert client.base_url == "https://optischema.example.com/api/v1"
    assert f"optischema-agent/{PRODUCT_VERSION}" == USER_AGENT
