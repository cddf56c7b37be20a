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

AGENT_MARKER = "/* optischema-agent */"
APPLICATION_NAME = "optischema-agent"

log = logging.getLogger(__name__)


class DatabaseUnavailable(Exception):
    """The monitored database could not be reached; the message never contains the password."""


def marked(statement: str) -> str:
    return f"{AGENT_MARKER} {statement}"


Query = LiteralString | sql.Composable


def session_options(
    *, statement_timeout_ms: int, lock_timeout_ms: int, idle_in_transaction_timeout_ms: int
) -> str:
    """The libpq `options` that set a session's timeouts as it starts."""
    return (
        f"-c statement_timeout={statement_timeout_ms} "
        f"-c lock_timeout={lock_timeout_ms} "
        f"-c idle_in_transaction_session_timeout={idle_in_transaction_timeout_ms}"
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
            sql.Composed([sql.SQL(AGENT_MARKER + " "), query])
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
        try:
            self._pool.open(wait=True, timeout=self._limits.connect_timeout_s)
        except (PoolTimeout, psycopg.Error) as error:
            self._pool.close()
            raise DatabaseUnavailable(self._explain_failure()) from error
        self._opened = True

    def _explain_failure(self) -> str:
        # The pool's own error is a bare timeout; one direct attempt gives the server's reason.
        try:
            with psycopg.connect(self._url, connect_timeout=max(1, int(self._limits.connect_timeout_s))):
                pass
        except psycopg.Error as error:
            return f"cannot connect to {self.redacted_url}: {connect_failure_reason(error)}"
        return f"cannot connect to {self.redacted_url}: timed out"

    @contextmanager
    def session(self) -> Iterator[AgentSession]:
        self.open()
        with self._pool.connection() as connection:
            session = AgentSession(connection)
            try:
                yield session
            finally:
                self.statements_sent += session.statements_sent
                self.workload_statements_sent += session.workload_statements_sent

    def close(self) -> None:
        self._pool.close()
        self._opened = False

    def __enter__(self) -> MonitoredDatabase:
        self.open()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
