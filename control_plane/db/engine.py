"""The metadata database's async engine (asyncpg), built from the plain postgresql:// URL operators write.

Operators configure one libpq-style URL (`OPTISCHEMA_METADATA_URL`), shared with the migrations that
run through psycopg. asyncpg takes its connection options as keyword arguments, and SQLAlchemy hands
it the URL's query string as keywords verbatim, so a libpq-only parameter such as `connect_timeout`
or `sslrootcert` would crash the first connection with a TypeError. The translation lives here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import msgspec
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from control_plane.settings import Settings

# asyncpg waits 60 s for a connect and SQLAlchemy 30 s for a pool slot by default: a request would
# hang that long while the metadata database is away instead of answering 503 at once.
DEFAULT_CONNECT_TIMEOUT_S = Settings.model_fields["metadata_connect_timeout_s"].default
DEFAULT_POOL_TIMEOUT_S = Settings.model_fields["db_pool_timeout_s"].default
DEFAULT_PING_IDLE_S = Settings.model_fields["db_ping_idle_s"].default

ASYNC_DRIVER = "postgresql+asyncpg"
SYNC_DRIVER = "postgresql+psycopg"
_POSTGRES_SCHEMES = frozenset({"postgres", "postgresql"})

# Parameters asyncpg understands inside a DSN but not as a keyword: passed on as `connect_args["dsn"]`,
# which asyncpg parses with its own libpq-compatible rules (its keywords still win for host, user...).
_DSN_ONLY = frozenset(
    {
        "application_name",
        "sslrootcert",
        "sslcert",
        "sslkey",
        "sslcrl",
        "sslpassword",
        "sslnegotiation",
        "ssl_min_protocol_version",
        "ssl_max_protocol_version",
        "krbsrvname",
        "gsslib",
    }
)
# libpq client options asyncpg has no equivalent for: refusing them beats silently ignoring a
# security or availability setting the operator relies on.
_UNSUPPORTED = frozenset(
    {
        "channel_binding",
        "gssencmode",
        "hostaddr",
        "keepalives",
        "keepalives_count",
        "keepalives_idle",
        "keepalives_interval",
        "requiressl",
        "sslcompression",
        "sslsni",
        "tcp_user_timeout",
        "replication",
    }
)


def _with_driver(url: str, driver: str) -> URL:
    parsed = make_url(url)
    scheme = parsed.drivername.split("+", 1)[0]
    if scheme not in _POSTGRES_SCHEMES:
        raise ValueError(f"the metadata database URL must be a postgresql:// URL, not {scheme}://")
    return parsed.set(drivername=driver)


def _single(value: str | tuple[str, ...]) -> str:
    if isinstance(value, tuple):
        return value[-1]  # libpq keeps the last occurrence too
    return value


def _split(url: str) -> tuple[URL, dict[str, Any]]:
    parsed = _with_driver(url, ASYNC_DRIVER)
    query = {name: _single(value) for name, value in parsed.query.items()}
    unsupported = sorted(set(query) & _UNSUPPORTED)
    if unsupported:
        raise ValueError(
            f"the metadata database URL sets {', '.join(unsupported)}, which the asyncpg driver cannot honour"
        )
    connect_args: dict[str, Any] = {}
    timeout = query.pop("connect_timeout", None)
    if timeout is not None and int(timeout) > 0:  # libpq: zero or negative waits forever
        connect_args["timeout"] = float(max(int(timeout), 2))  # libpq rounds anything shorter up to 2s
    sslmode = query.pop("sslmode", None)
    if sslmode is not None:
        query["ssl"] = sslmode  # asyncpg accepts libpq's mode names for `ssl`
    dsn_only = {name: query.pop(name) for name in sorted(set(query) & _DSN_ONLY)}
    if dsn_only:
        connect_args["dsn"] = "postgresql://?" + urlencode(dsn_only)
    return parsed.set(query=query), connect_args


def async_database_url(url: str) -> str:
    """`postgresql://...` as `postgresql+asyncpg://...`; pair it with `async_connect_args(url)`."""
    return _split(url)[0].render_as_string(hide_password=False)


def async_connect_args(url: str) -> dict[str, Any]:
    """What the URL's libpq parameters become for asyncpg: `timeout`, and a `dsn` for SSL files and the like."""
    return _split(url)[1]


def sync_database_url(url: str) -> str:
    """`postgresql+psycopg://...`: migrations run synchronously, and libpq reads every parameter itself."""
    return _with_driver(url, SYNC_DRIVER).render_as_string(hide_password=False)


def json_text(value: Any) -> str:
    """What a JSONB column is written with (by the engine, and by a statement that passes JSON as text,
    such as ingestion's plans and relations): msgspec's encoder, ~10x faster than `json.dumps` on a
    snapshot's plans (EXPLAIN trees, ~0.2 MB of them a snapshot, were a seventh of a worker's
    Python time). It writes a NaN or an infinity as null where `json.dumps` wrote `NaN`, which
    PostgreSQL refuses; and it writes datetimes and UUIDs as ISO text where `json.dumps` failed."""
    return msgspec.json.encode(value).decode()


def engine_from_url(
    url: str,
    *,
    pool_size: int = 5,
    max_overflow: int = 10,
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
    pool_timeout_s: float = DEFAULT_POOL_TIMEOUT_S,
    statement_cache: bool = True,
    ping_idle_s: float = DEFAULT_PING_IDLE_S,
    clock: Callable[[], float] = time.monotonic,
) -> AsyncEngine:
    """The engine; a `connect_timeout` in the URL wins over `connect_timeout_s`. A connection that
    has been idle in the pool for `ping_idle_s` (by `clock`) is pinged before it is handed out.

    `statement_cache=False` is for a PgBouncer in transaction mode before 1.21, which cannot carry a
    named prepared statement from one transaction to the next (each may run on another server
    connection): asyncpg's cache and SQLAlchemy's are off, so every statement is prepared unnamed
    and executed within the transaction that prepared it (the pool's ping, CheckoutPing, prepares nothing).
    """
    async_url, connect_args = _split(url)
    connect_args.setdefault("timeout", connect_timeout_s)
    if not statement_cache:
        connect_args["statement_cache_size"] = 0  # asyncpg's: unnamed statements, nothing kept
        connect_args["prepared_statement_cache_size"] = 0  # SQLAlchemy's dialect's own cache
    # The pool hands out the connection returned last, not the one idle longest (SQLAlchemy's
    # default): a worker then stores batch after batch on one PostgreSQL backend whose caches,
    # memory and prepared statements are warm, where first-in-first-out took each of its ten pooled
    # connections in turn, so that ten backends each built their own (ten copies of the batch table,
    # and of each statement reading it in pg_stat_statements). Two workers storing 96 snapshots: the
    # machine's CPU per stored snapshot ~91 -> ~81 ms, their backends' ~46 -> ~39 ms, page faults
    # ~145,000 -> ~80,000 a run, a warm-up's share included (ingestion_workers, capacity, four runs
    # each, 2026-12-06). A connection left idle at the bottom may be closed by the server or a proxy
    # meanwhile; the checkout ping (CheckoutPing) replaces it before anyone uses it.
    engine = create_async_engine(
        async_url,
        connect_args=connect_args,
        json_serializer=json_text,
        json_deserializer=msgspec.json.decode,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout_s,
        pool_use_lifo=True,
    )
    ping = CheckoutPing(ping_idle_s, clock)
    pool = engine.sync_engine.pool
    event.listen(pool, "connect", ping.note_use)
    event.listen(pool, "checkin", ping.note_use)
    event.listen(pool, "checkout", ping.checkout)
    return engine


# A failover or an idle-connection reaper must not fail the next request: a connection that has lain
# idle in the pool is asked whether it is alive as it leaves it. SQLAlchemy's own pre-ping does so
# for asyncpg in three round trips (BEGIN, a prepared `;`, ROLLBACK: a transaction, so that a
# PgBouncer in transaction mode keeps the prepared statement on one server connection); this is
# one, a query of the simple protocol, which prepares nothing and needs no transaction behind any
# PgBouncer (on loopback the API spent 5.4 ms of CPU accepting a snapshot instead of 5.9,
# ingestion_workers, 2026-12-06).
#
# A connection given back less than `db_ping_idle_s` (1 s) ago is handed out unasked, as HikariCP
# does within its aliveBypassWindowMs (500 ms): under load every connection is, so a busy server
# pings almost never, and an idle one before each request. A dashboard read is ~10 round trips, a
# ping one of them; with every core busy each round trip waits for its turn on a core twice, and the
# reads' p99 while two workers stored a backlog beside them went 103 -> 89 ms (mean of 8 runs each,
# alternated; reads over 100 ms 1.5% -> 0.7%; ingestion_workers' backlog phase, 2026-12-07). What
# it gives up: a connection that dies within the window of its last use (a failover, a restart: an
# idle-connection reaper waits far longer) fails the one request that takes it next with a 503,
# and the pool replaces every connection older than the failure. 0 pings every checkout.
class CheckoutPing:
    """The pool's events: `note_use` when a connection is made or given back, `checkout` as it is
    handed out, which pings a connection idle for `idle_s` or more. A connection that does not
    answer is replaced (DisconnectionError makes the pool discard it and check out another, three
    times at most; then the error is the request's, which answers 503 while the database is away)."""

    _USED_AT = "optischema_used_at"

    def __init__(self, idle_s: float, clock: Callable[[], float]) -> None:
        self._idle_s = idle_s
        self._clock = clock

    def note_use(self, _dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[self._USED_AT] = self._clock()

    def checkout(self, dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        used_at = record.info.get(self._USED_AT)
        if used_at is not None and self._clock() - used_at < self._idle_s:
            return
        try:
            dbapi_connection.run_async(lambda connection: connection.execute(_PING))
        except Exception as error:
            raise DisconnectionError(f"the pooled connection did not answer: {error}") from error


_PING = "SELECT 1"


def create_engine(settings: Settings, *, pool_size: int | None = None, max_overflow: int = 10) -> AsyncEngine:
    """The engine as the settings describe it; `pool_size` defaults to OPTISCHEMA_DB_POOL_SIZE."""
    return engine_from_url(
        settings.metadata_url,
        pool_size=settings.db_pool_size if pool_size is None else pool_size,
        max_overflow=max_overflow,
        connect_timeout_s=settings.metadata_connect_timeout_s,
        pool_timeout_s=settings.db_pool_timeout_s,
        statement_cache=settings.metadata_statement_cache,
        ping_idle_s=settings.db_ping_idle_s,
    )
