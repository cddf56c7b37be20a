"""slowapi limits on sign-in and expensive endpoints, keyed on the principal when there is one.

The client address comes from X-Forwarded-For only when the direct peer is a trusted proxy;
otherwise anyone could pick their own rate-limit key. Storage is memory by default or Redis
(OPTISCHEMA_RATE_LIMIT_STORAGE) so that several workers share their counts.
"""

from __future__ import annotations

import ipaddress
import os

from fastapi import Request
from slowapi import Limiter

from control_plane.settings import Settings


class ControlPlaneLimiter(Limiter):
    login_limit = "10/minute"
    expensive_limit = "30/minute"
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()


def _trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in limiter.trusted_proxies)


def client_address(request: Request) -> str:
    peer = request.client.host if request.client else "unknown"
    forwarded = request.headers.get("x-forwarded-for")
    if not forwarded or not _trusted(peer):
        return peer
    # Walk from the nearest hop outwards and stop at the first address we do not trust.
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop):
            return hop
    return hops[0] if hops else peer


def rate_limit_key(request: Request) -> str:
    principal = getattr(request.state, "principal_key", None)
    return str(principal) if principal else f"ip:{client_address(request)}"


limiter = ControlPlaneLimiter(
    key_func=rate_limit_key,
    storage_uri=os.environ.get("OPTISCHEMA_RATE_LIMIT_STORAGE", "memory://"),
    strategy="moving-window",
)


def configure_limiter(settings: Settings) -> None:
    limiter.login_limit = settings.login_rate_limit
    limiter.expensive_limit = settings.expensive_rate_limit
    limiter.trusted_proxies = tuple(
        ipaddress.ip_network(proxy, strict=False) for proxy in settings.trusted_proxies
    )
    limiter.reset()  # a new app starts with fresh counters (tests build many apps in one process)
