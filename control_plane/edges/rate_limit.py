"""slowapi limits on sign-in and expensive endpoints, keyed on the principal when there is one.

The client address comes from X-Forwarded-For only when the direct peer is a trusted proxy;
otherwise anyone could pick their own rate-limit key. Storage is memory by default or Redis
(OPTISCHEMA_RATE_LIMIT_STORAGE) so that several workers and servers share their counts; while Redis
is away the limits count per process (see control_plane.edges.rate_limit_storage).
"""

from __future__ import annotations

import ipaddress

from fastapi import Request
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from slowapi import Limiter

from control_plane.edges.rate_limit_storage import FallbackStorage
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


# The storage is the settings' (configure_limiter); the decorators need the object at import.
limiter = ControlPlaneLimiter(key_func=rate_limit_key, storage_uri="memory://", strategy="moving-window")


def limit_storage(settings: Settings) -> Storage:
    """OPTISCHEMA_RATE_LIMIT_STORAGE: this process's memory, or shared storage with a local fallback."""
    if settings.rate_limit_storage.startswith("memory://"):
        return MemoryStorage()
    timeout_s = settings.rate_limit_storage_timeout_s
    # Bounded waits: a Redis that hangs must not hold every limited request for the OS's TCP timeout.
    shared = storage_from_string(
        settings.rate_limit_storage, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
    )
    if not isinstance(shared, Storage):
        raise ValueError("OPTISCHEMA_RATE_LIMIT_STORAGE must name a synchronous storage, such as redis://")
    return FallbackStorage(shared, retry_after_s=settings.rate_limit_storage_retry_s)


def configure_limiter(settings: Settings) -> None:
    limiter.login_limit = settings.login_rate_limit
    limiter.expensive_limit = settings.expensive_rate_limit
    limiter.trusted_proxies = tuple(
        ipaddress.ip_network(proxy, strict=False) for proxy in settings.trusted_proxies
    )
    # A new app starts with fresh counters (tests build many apps in one process); shared counts
    # are not this process's to clear: a restarting server would wipe every other server's.
    storage = limit_storage(settings)
    limiter._storage = storage
    limiter._limiter = MovingWindowRateLimiter(storage)
