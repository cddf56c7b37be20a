"""The rule for URLs a tenant may make the control plane call (LLM base URLs, webhooks).

A tenant-set URL is a request the control plane makes from inside its own network. Unless the
operator allows it (`OPTISCHEMA_ALLOW_PRIVATE_OUTBOUND`), every address the host name resolves to
must be public: not loopback, private, link-local (cloud metadata at 169.254.169.254), multicast,
reserved or unspecified. Checked when the URL is saved and again right before each call, since a
name may resolve differently later.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

Resolver = Callable[[str, int], list[str]]


class UnsafeOutboundUrl(ValueError):
    """The URL may not be called; the message says why, without echoing credentials."""


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as error:
        raise UnsafeOutboundUrl(f"the host {host!r} does not resolve: {error.strerror}") from None
    return sorted({str(info[4][0]) for info in infos})


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def check_outbound_url(url: str, *, allow_private: bool, resolve: Resolver = _resolve) -> str:
    """Returns the URL unchanged when it may be called; raises UnsafeOutboundUrl otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http"):
        raise UnsafeOutboundUrl("the URL must start with https:// (or http:// where the operator allows it)")
    if parts.username or parts.password:
        raise UnsafeOutboundUrl("the URL must not carry a user name or password; use the API key field")
    host = parts.hostname
    if not host:
        raise UnsafeOutboundUrl("the URL has no host")
    if allow_private:
        return url
    if parts.scheme != "https":
        raise UnsafeOutboundUrl("the URL must use https://")
    try:
        port = parts.port or 443
    except ValueError:
        raise UnsafeOutboundUrl("the URL's port is not a number between 0 and 65535") from None
    addresses = resolve(host, port)
    if not addresses:
        raise UnsafeOutboundUrl(f"the host {host!r} does not resolve")
    private = [address for address in addresses if not _is_public(address)]
    if private:
        raise UnsafeOutboundUrl(
            f"the host {host!r} resolves to a private, loopback or link-local address ({private[0]}); "
            "the operator can allow such targets with OPTISCHEMA_ALLOW_PRIVATE_OUTBOUND=true"
        )
    return url
