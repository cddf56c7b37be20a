"""The one connection that changes the database: the apply URL, autocommit, short lock waits, marked.

Not the monitoring pool: the apply role owns the tables (CREATE INDEX needs ownership), the build must
run outside any transaction (CONCURRENTLY refuses a transaction block), and it gets no statement
timeout while the catalog reads around it keep one. Every statement carries the agent's marker so a
DBA sees in pg_stat_activity what is ours.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, LiteralString

import psycopg
from psycopg import sql

from agent.config import ApplySettings, redact_url
from agent.db.session import AGENT_MARKER, APPLICATION_NAME, DatabaseUnavailable, marked


class ApplyConnection:
    def __init__(self, connection: psycopg.Connection[tuple[Any, ...]], settings: ApplySettings) -> None:
        self._connection = connection
        self._settings = settings

    @classmethod
    @contextmanager
    def open(cls, url: str, settings: ApplySettings) -> Iterator[ApplyConnection]:
        options = (
            f"-c lock_timeout={settings.lock_timeout_ms} "
            f"-c statement_timeout={settings.catalog_statement_timeout_ms} "
            "-c idle_in_transaction_session_timeout=60000"
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
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise DatabaseUnavailable(f"cannot connect to {redact_url(url)} to apply: {reason}") from None
        try:
            yield cls(connection, settings)
        finally:
            connection.close()

    @property
    def backend_pid(self) -> int:
        return int(self._connection.info.backend_pid)

    @property
    def host(self) -> str:
        return str(self._connection.info.host)

    def qualified_name(self, schema: str, name: str) -> str:
        """`"schema"."name"`, quoted by the driver for this connection."""
        return sql.Identifier(schema, name).as_string(self._connection)

    def fetch_all(
        self, query: LiteralString | sql.Composable, params: Sequence[object] | None = None
    ) -> list[tuple[Any, ...]]:
        statement = (
            sql.Composed([sql.SQL(AGENT_MARKER + " "), query])
            if isinstance(query, sql.Composable)
            else sql.SQL(marked(query))
        )
        with self._connection.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    def fetch_one(
        self, query: LiteralString | sql.Composable, params: Sequence[object] | None = None
    ) -> tuple[Any, ...] | None:
        rows = self.fetch_all(query, params)
        return rows[0] if rows else None

    def run_change(self, statement: str) -> None:
        """Run an allow-listed statement with no statement timeout: an index build may take hours.

        `binary=True` forces the extended query protocol, in which the server refuses a string that
        holds more than one statement: the last line of defence behind the allow-list's parser.
        """
        self.fetch_all("SET statement_timeout = 0")
        try:
            with self._connection.cursor() as cursor:
                cursor.execute(marked(statement).encode(), binary=True)
        finally:
            if not self._connection.closed:
                self.fetch_all(
                    sql.SQL("SET statement_timeout = {}").format(
                        sql.Literal(self._settings.catalog_statement_timeout_ms)
                    )
                )
