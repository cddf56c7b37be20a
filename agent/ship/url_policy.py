"""Which control-plane URLs the agent will talk to.

The agent token is a bearer credential, so it only ever travels over TLS, except to the machine
itself: demos and tests run the control plane on loopback without certificates.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit, urlunsplit

API_PREFIX = "/api/v1"


def is_loopback_host(host: str) -> bool:
    if host.lower() in {"localhost", "localhost."}:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def redact_userinfo(url: str) -> str:
    """The URL without user:password@, for messages (an API URL should never carry one anyway)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparseable URL>"
    if "@" not in parts.netloc:
        return url
    shown = f"[{host}]" if ":" in host else host
    return urlunsplit(parts._replace(netloc=f"{shown}{port}"))


def api_base_url(api_url: str) -> str:
    """`api_url` checked against the transport policy, with the /api/v1 prefix appended.

    Raises ValueError with a message meant for the person who configured --api-url.
    """
    shown = redact_userinfo(api_url)
    try:
        parts = urlsplit(api_url.strip())
        host = parts.hostname
        parts.port  # noqa: B018  (parsing the port is what validates it)
    except ValueError as error:
        raise ValueError(f"--api-url {shown!r} is not a valid URL: {error}") from None
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        raise ValueError(
            f"--api-url {shown!r} must start with https:// (http:// is accepted only for a control "
            "plane on this machine: 127.0.0.1, ::1 or localhost)"
        )
    if not host:
        raise ValueError(f"--api-url {shown!r} has no host name")
    if scheme == "http" and not is_loopback_host(host):
        raise ValueError(
            f"--api-url {shown!r} uses plain http:// to another machine, which would send the agent "
            "token unencrypted; use https:// (with a CA bundle for a private CA)"
        )
    if "@" in parts.netloc:
        raise ValueError(
            f"--api-url {shown!r} must not carry a user name or password; the agent token is the credential"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"--api-url {shown!r} must be the server root, without a query or fragment")
    path = parts.path.rstrip("/")
    if path.endswith(API_PREFIX):
        # A common slip: the documented value is the server root. Accepting both is kinder than a 404.
        path = path[: -len(API_PREFIX)]
    return urlunsplit((scheme, parts.netloc, path + API_PREFIX, "", ""))
