"""The only way the agent talks to the monitored database.

Every statement goes through `MonitoredDatabase`, which prefixes the marker comment (so a DBA can
see what is ours in pg_stat_activity and logs, and so the agent can drop its own statements from
what it reports), tags the session with `application_name`, applies statement, lock and idle
timeouts at connection start, and caps the number of connections.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, LiteralString

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from agent.config import SessionLimits, redact_url
from shared.sql.statement_boundaries import single_statement

AGENT_MARKER = "/* optischema-agent */"
APPLICATION_NAME = "optischema-agent"

log = logging.getLogger(__name__)


class DatabaseUnavailable(Exception):
    """The monitored database could not be reached; the message never contains the password."""


def lost_connection(connection: psycopg.Connection[tuple[Any, ...]], error: BaseException) -> bool:
    """Whether `error` means the connection itself is gone (server restart, crash, network), as
    opposed to one statement failing on a healthy connection."""
    if connection.broken or connection.closed:
        return True
    state = getattr(error, "sqlstate", None) or ""
    # Class 08: connection exceptions; 57P01-57P03: admin/crash shutdown, cannot connect now.
    return state.startswith("08") or state in ("57P01", "57P02", "57P03")


def marked(statement: str) -> str:
    """The statement with the marker in front (what a DBA reads first in pg_stat_activity) and at
    the end: PostgreSQL 18's pg_stat_statements records a statement's text without its leading
    comments, and the trailing marker is how the agent still recognises its own entries there."""
    return f"{AGENT_MARKER} {statement} {AGENT_MARKER}"


Query = LiteralString | sql.Composable


# What the agent's own code depends on, whatever the database or role defaults say: psycopg parses
# dates and timestamps only in ISO style (a database with `DateStyle = 'SQL, DMY'` made `snapshot`
# fail), interval text only in the `postgres` style, and costs and ratios must keep all their digits.
# Every one of these may be set by any role, so they travel in the startup packet.
SESSION_SETTINGS: dict[str, str] = {
    "DateStyle": "ISO, MDY",
    "IntervalStyle": "postgres",
    "TimeZone": "UTC",
    "extra_float_digits": "3",
}

# Hooks of other extensions that run while the agent plans a statement, switched off in the agent's
# own sessions only. pg_qualstats 2.0.4 crashed a backend (SIGSEGV in ExplainOnePlan) on a
# partitionwise join prepared with force_generic_plan and explained with EXECUTE of NULLs: with
# every backend restarted, pg_stat_statements lost its counters. (Reproduced on Debian's 15: a join
# over a partitioned table whose partitions are all pruned at executor start-up leaves an Append with
# no subplans, and pg_qualstats' ExecutorEnd reads the first one.) auto_explain and pg_store_plans
# only watch executed plans, but nothing the agent runs is worth their log lines. pg_hint_plan stays
# on: a hint the application wrote steers the application's plan, so the agent's plan must follow
# it; pg_stat_kcache only counts resources. Some of these are superuser-only (auto_explain's,
# pg_store_plans'), or the extension absent (then SET creates a harmless placeholder): each is set
# on its own after connecting and a refusal is only logged, never a failed connection.
EXPLAIN_HOOKS_OFF: dict[str, str] = {
    "pg_qualstats.enabled": "off",
    "pg_qualstats.track_constants": "off",
    "auto_explain.log_min_duration": "-1",
    "pg_store_plans.track": "none",
}


def session_options(
    *, statement_timeout_ms: int, lock_timeout_ms: int, idle_in_transaction_timeout_ms: int
) -> str:
    """The libpq `options` that set a session's timeouts and what the agent depends on as it starts."""
    settings = {
        "statement_timeout": str(statement_timeout_ms),
        "lock_timeout": str(lock_timeout_ms),
        "idle_in_transaction_session_timeout": str(idle_in_transaction_timeout_ms),
        **SESSION_SETTINGS,
    }
    # libpq splits options on spaces; a backslash keeps one inside a value (`ISO, MDY`).
    return " ".join(f"-c {name}={value.replace(' ', chr(92) + ' ')}" for name, value in settings.items())


def configure_session(connection: psycopg.Connection[tuple[Any, ...]]) -> None:
    """Run on every new pooled connection: extension hooks off, and pg_catalog first in the path.

    The search_path is the database's own (the workload's unqualified names must resolve as they
    do for the application), with pg_catalog put explicitly first so that no schema on it can shadow
    a catalog function or operator the agent calls.
    """
    for name, value in EXPLAIN_HOOKS_OFF.items():
        try:
            connection.execute(sql.SQL(marked("SELECT set_config({}, {}, false)")).format(name, value))
        except psycopg.errors.InsufficientPrivilege:
            log.debug("cannot switch off %s in the agent's session (superuser only)", name)
        except psycopg.Error as error:
            log.debug("cannot switch off %s in the agent's session: %s", name, connect_failure_reason(error))
    row = connection.execute(marked("SELECT current_setting('search_path')")).fetchone()
    path = str(row[0]) if row else ""
    if path.split(",", 1)[0].strip() != "pg_catalog":
        connection.execute(
            sql.SQL(marked("SELECT set_config('search_path', {}, false)")).format(
                "pg_catalog, " + path if path.strip() else "pg_catalog"
            )
        )


def connect_failure_reason(error: psycopg.Error) -> str:
    """The first line of the driver's reason for a failed connection, or the error's type name."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


class AgentSession:
    """One borrowed connection. Reads run in short transactions that are always rolled back."""

    def __init__(self, connection: psycopg.Connection[tuple[Any, ...]]) -> None:
        self._connection = connection
        self.statements_sent = 0
        self.workload_statements_sent = 0  # EXPLAIN and friends, counted apart from catalog reads

    @property
    def connection(self) -> psycopg.Connection[tuple[Any, ...]]:
        return self._connection

    def fetch_all(self, query: Query, params: Sequence[object] | None = None) -> list[tuple[Any, ...]]:
        statement = (
            sql.Composed([sql.SQL(AGENT_MARKER + " "), query, sql.SQL(" " + AGENT_MARKER)])
            if isinstance(query, sql.Composable)
            else sql.SQL(marked(query))
        )
        with self._connection.cursor() as cursor:
            self.statements_sent += 1
            cursor.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    def fetch_one(self, query: Query, params: Sequence[object] | None = None) -> tuple[Any, ...] | None:
        rows = self.fetch_all(query, params)
        return rows[0] if rows else None

    def explain_text(self, statement: str) -> list[tuple[Any, ...]]:
        """Run an EXPLAIN of workload text through the simple query protocol.

        `EXPLAIN (GENERIC_PLAN)` (PostgreSQL 16+) must see the statement's `$n` as its own
        placeholders; over the extended protocol the server takes them for bind parameters and
        refuses ("bind message supplies 0 parameters"). The simple protocol would run a second
        statement, so the text is checked to be exactly one first (`single_statement`), and callers
        run it inside a rolled-back, read-only transaction.
        """
        text = single_statement(statement)
        with self._connection.cursor() as cursor:
            self.workload_statements_sent += 1
            cursor.execute(marked(text))  # no parameters, text results: the simple query protocol
            return cursor.fetchall() if cursor.description else []

    def execute_text(self, statement: str) -> list[tuple[Any, ...]]:
        """Run text that is not a literal of ours (EXPLAIN of workload text), still marked.

        Binary results force the extended query protocol, in which the server refuses a string
        holding more than one statement: a second line of defence behind the parser's check.
        """
        with self._connection.cursor() as cursor:
            self.workload_statements_sent += 1
            cursor.execute(marked(statement).encode(), binary=True)
            return cursor.fetchall() if cursor.description else []

    @contextmanager
    def rolled_back(self) -> Iterator[AgentSession]:
        """A transaction that never commits: whatever happens inside leaves no trace."""
        with self._connection.transaction(force_rollback=True):
            yield self


class MonitoredDatabase:
    """A capped pool of polite sessions to the monitored database."""

    def __init__(self, url: str, limits: SessionLimits | None = None) -> None:
        self._limits = limits or SessionLimits()
        self._url = url
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=self._limits.max_connections,
            open=False,
            timeout=self._limits.connect_timeout_s,
            kwargs={
                "application_name": APPLICATION_NAME,
                "options": session_options(
                    statement_timeout_ms=self._limits.statement_timeout_ms,
                    lock_timeout_ms=self._limits.lock_timeout_ms,
                    idle_in_transaction_timeout_ms=self._limits.idle_in_transaction_timeout_ms,
                ),
                "connect_timeout": max(1, int(self._limits.connect_timeout_s)),
                # Server-side prepared statements are ours to name and deallocate one by one;
                # the driver must not keep its own, so nothing here ever needs DEALLOCATE ALL.
                "prepare_threshold": None,
                "autocommit": True,
            },
            # A connection the server closed while it sat in the pool (a restart) is found and
            # replaced when it is lent out, not when the agent's first statement fails on it.
            check=ConnectionPool.check_connection,
            configure=configure_session,
            name="optischema-monitored",
        )
        self._opened = False
        self.statements_sent = 0
        self.workload_statements_sent = 0

    @property
    def redacted_url(self) -> str:
        return redact_url(self._url)

    def open(self) -> None:
        if self._opened:
            return
        # One direct attempt first: a refused port, an unknown host or a wrong password fails at once
        # with the server's own reason, where the pool would retry it for the whole connect timeout
        # (10 s of `check` saying nothing) and then report a bare timeout.
        refused = self._direct_attempt()
        if refused is not None:
            raise DatabaseUnavailable(refused)
        try:
            self._pool.open(wait=True, timeout=self._limits.connect_timeout_s)
        except (PoolTimeout, psycopg.Error) as error:
            self._pool.close()
            raise DatabaseUnavailable(self._unavailable()) from error
        self._opened = True

    def _unavailable(self) -> str:
        # The pool's own error is a bare timeout; one direct attempt gives the server's reason.
        return self._direct_attempt() or f"cannot connect to {self.redacted_url}: timed out"

    def _direct_attempt(self) -> str | None:
        """Why one plain connection fails, with the server's reason; None when it succeeds."""
        try:
            with psycopg.connect(
                self._url,
                connect_timeout=max(1, int(self._limits.connect_timeout_s)),
                application_name=APPLICATION_NAME,
            ):
                pass
        except psycopg.Error as error:
            return f"cannot connect to {self.redacted_url}: {connect_failure_reason(error)}"
        return None

    @contextmanager
    def session(self) -> Iterator[AgentSession]:
        """A borrowed session. A connection lost under it (a restart of the server, a crashed
        backend, the network) surfaces as DatabaseUnavailable, which every command reports in one
        line and the daemon logs and retries next cycle; the pool replaces the dead connection."""
        self.open()
        try:
            with self._pool.connection() as connection:
                session = AgentSession(connection)
                try:
                    yield session
                except psycopg.Error as error:
                    if lost_connection(connection, error):
                        raise DatabaseUnavailable(
                            f"lost the connection to {self.redacted_url}: {connect_failure_reason(error)}"
                        ) from error
                    raise
                finally:
                    self.statements_sent += session.statements_sent
                    self.workload_statements_sent += session.workload_statements_sent
        except PoolTimeout as error:
            raise DatabaseUnavailable(self._unavailable()) from error

    def close(self) -> None:
        self._pool.close()
        self._opened = False

    def __enter__(self) -> MonitoredDatabase:
        self.open()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
