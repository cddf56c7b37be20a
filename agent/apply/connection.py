"""The one connection that changes the database: the apply URL, autocommit, short lock waits, marked.

Not the monitoring pool: the apply role owns the tables (CREATE INDEX needs ownership), the build must
run outside any transaction (CONCURRENTLY refuses a transaction block), and it gets no statement
timeout while the catalog reads around it keep one. Every statement carries the agent's marker so a
DBA sees in pg_stat_activity what is ours.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from agent.config import ApplySettings, redact_url
from agent.db.session import (
    APPLICATION_NAME,
    AgentSession,
    DatabaseUnavailable,
    connect_failure_reason,
    session_options,
)


class ApplyConnection(AgentSession):
    """A session of its own (not from the monitoring pool) that may also run an allow-listed change."""

    def __init__(self, connection: psycopg.Connection[tuple[Any, ...]], settings: ApplySettings) -> None:
        super().__init__(connection)
        self._settings = settings

    @classmethod
    @contextmanager
    def open(cls, url: str, settings: ApplySettings) -> Iterator[ApplyConnection]:
        options = session_options(
            statement_timeout_ms=settings.catalog_statement_timeout_ms,
            lock_timeout_ms=settings.lock_timeout_ms,
            idle_in_transaction_timeout_ms=60_000,
        )
        try:
            connection = psycopg.connect(
                url,
                autocommit=True,
                application_name=APPLICATION_NAME,
                options=options,
                connect_timeout=max(1, int(settings.connect_timeout_s)),
                prepare_threshold=None,
            )
        except psycopg.Error as error:
            raise DatabaseUnavailable(
                f"cannot connect to {redact_url(url)} to apply: {connect_failure_reason(error)}"
            ) from None
        try:
            yield cls(connection, settings)
        finally:
            connection.close()

    @property
    def host(self) -> str:
        return str(self._connection.info.host)

    def run_change(self, statement: str) -> None:
        """Run an allow-listed statement with no statement timeout: an index build may take hours.

        `execute_text` sends it over the extended query protocol, in which the server refuses a string
        that holds more than one statement: the last line of defence behind the allow-list's parser.
        """
        self.fetch_all("SET statement_timeout = 0")
        try:
            self.execute_text(statement)
        finally:
            if not self._connection.closed:
                self.fetch_all(
                    sql.SQL("SET statement_timeout = {}").format(
                        sql.Literal(self._settings.catalog_statement_timeout_ms)
                    )
                )
