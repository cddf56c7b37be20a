"""The metadata database being away, told apart from every other database error.

While the metadata database is stopped, restarting or failing over, each request meets one of a few
errors depending on when it looks: the connect is refused (`ConnectionRefusedError`, an `OSError`)
or times out (`TimeoutError`), a pooled connection dies mid-request (asyncpg's
`ConnectionDoesNotExistError`, SQLSTATE 08003, or the server's `AdminShutdown`, 57P01), the server
is still recovering (`CannotConnectNow`, 57P03), or every pool slot is taken by requests stuck on
the above (SQLAlchemy's pool `TimeoutError`). All of them mean "try again shortly", so
`tenant_session`/`lookup_session` turn them into `MetadataUnavailable`, which the app answers with
503 and `Retry-After` and the background workers log and retry.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# SQLSTATE class 08 (connection exception) and the shutdown/start-up codes of class 57 and 53.
_UNAVAILABLE_SQLSTATE_CLASSES = ("08",)
_UNAVAILABLE_SQLSTATES = frozenset(
    {
        "57P01",  # admin_shutdown: a fast or immediate stop killed the session
        "57P02",  # crash_shutdown: another backend crashed, the postmaster restarts them all
        "57P03",  # cannot_connect_now: starting up, shutting down, or in recovery
        "53300",  # too_many_connections: a full server is unavailable, not broken
    }
)
_CHAIN_LIMIT = 16  # causes, contexts and driver originals: a real chain is 3-5 links long


class MetadataUnavailable(ConnectionError):
    """The metadata database cannot be reached right now; the request or job may be retried.

    A ConnectionError, as the refused connect it most often is, so code that already treated an
    unreachable database as an OSError (start-up key generation, optischema-admin) still does.
    Carries only the class name of the driver's error, never its message (which can name hosts and
    users), and pickles, so it can cross process boundaries.
    """

    def __init__(self, reason: str = "unreachable") -> None:
        super().__init__(reason)
        self.reason = reason


DATABASE_ERRORS: tuple[type[Exception], ...] = (
    MetadataUnavailable,
    PoolTimeout,
    DBAPIError,  # SQLAlchemy wraps every driver error raised once a connection exists
    OSError,  # asyncpg's connect raises ConnectionRefusedError and friends unwrapped
)


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending and len(seen) < _CHAIN_LIMIT:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        original: Any = getattr(current, "orig", None)
        for linked in (original, current.__cause__):
            if isinstance(linked, BaseException):
                pending.append(linked)


def _unavailable_link(error: BaseException) -> bool:
    if isinstance(error, MetadataUnavailable | PoolTimeout | OSError | TimeoutError):
        return True  # OSError: refused, reset, unreachable, a socket file gone with its server
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    code: Any = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    return isinstance(code, str) and (
        code in _UNAVAILABLE_SQLSTATES or code.startswith(_UNAVAILABLE_SQLSTATE_CLASSES)
    )


def unavailable_reason(error: BaseException) -> str | None:
    """The name of the error that says the metadata database is away, or None for any other error."""
    if not isinstance(error, DATABASE_ERRORS):
        return None  # e.g. an HTTP error raised while handling a failed webhook connect
    for link in _chain(error):
        if _unavailable_link(link):
            return link.reason if isinstance(link, MetadataUnavailable) else type(link).__name__
    return None


def as_unavailable(error: BaseException) -> MetadataUnavailable | None:
    """`error` as a MetadataUnavailable if the database being away caused it."""
    if isinstance(error, MetadataUnavailable):
        return error
    reason = unavailable_reason(error)
    return None if reason is None else MetadataUnavailable(reason)
