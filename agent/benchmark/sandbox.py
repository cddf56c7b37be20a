"""The sandbox: a writable copy of the monitored database that the customer names.

Candidate indexes are built and dropped here, and the statements they serve are timed here; the
monitored database is never written to for a benchmark. The sandbox gets the same polite session as
the monitored database (marker comment, application_name, timeouts) and a single connection.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import psycopg

from agent.benchmark.settings import BENCHMARK_PREFIX
from agent.config import SessionLimits
from agent.db.session import AgentSession, MonitoredDatabase
from shared.sql.index_ddl import drop_index_sql

log = logging.getLogger(__name__)

# Ordinary and partitioned tables with their columns and types, outside the system schemas.
_COLUMNS_SQL = """
    SELECT n.nspname, c.relname, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod)
      FROM pg_catalog.pg_attribute a
      JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
       AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
"""


def sandbox_database(url: str, limits: SessionLimits) -> MonitoredDatabase:
    """One polite connection to the sandbox: the benchmark runs one statement at a time."""
    return MonitoredDatabase(url, replace(limits, max_connections=1))


def sweep_leftovers(session: AgentSession) -> list[str]:
    """Drop every index a crashed or killed benchmark left behind (named with BENCHMARK_PREFIX)."""
    rows = session.fetch_all(
        "SELECT schemaname, indexname FROM pg_catalog.pg_indexes WHERE indexname LIKE %s",
        [BENCHMARK_PREFIX.replace("_", "\\_") + "%"],
    )
    for schema, name in rows:
        session.connection.execute(drop_index_sql(str(schema), str(name)))
        log.info("benchmark: dropped the leftover index %s.%s on the sandbox", schema, name)
    return [f"{schema}.{name}" for schema, name in rows]


@dataclass(frozen=True)
class SchemaDifference:
    missing_tables: list[str]  # in the monitored database, not in the sandbox
    extra_tables: list[str]
    differing_columns: list[str]  # `schema.table.column`: missing, extra or of another type

    @property
    def same(self) -> bool:
        return not (self.missing_tables or self.extra_tables or self.differing_columns)

    def describe(self, limit: int = 5) -> str:
        parts = []
        for label, names in (
            ("tables missing in the sandbox", self.missing_tables),
            ("tables only in the sandbox", self.extra_tables),
            ("columns that differ", self.differing_columns),
        ):
            if names:
                more = f" and {len(names) - limit} more" if len(names) > limit else ""
                parts.append(f"{label}: {', '.join(names[:limit])}{more}")
        return "; ".join(parts)


def table_columns(session: AgentSession) -> dict[str, dict[str, str]]:
    columns: dict[str, dict[str, str]] = {}
    for schema, table, column, type_name in session.fetch_all(_COLUMNS_SQL):
        columns.setdefault(f"{schema}.{table}", {})[str(column)] = str(type_name)
    return columns


def compare_schemas(
    monitored: dict[str, dict[str, str]], sandbox: dict[str, dict[str, str]]
) -> SchemaDifference:
    differing = [
        f"{table}.{column}"
        for table in sorted(monitored.keys() & sandbox.keys())
        for column in sorted(monitored[table].keys() | sandbox[table].keys())
        if monitored[table].get(column) != sandbox[table].get(column)
    ]
    return SchemaDifference(
        missing_tables=sorted(monitored.keys() - sandbox.keys()),
        extra_tables=sorted(sandbox.keys() - monitored.keys()),
        differing_columns=differing,
    )


def can_write(session: AgentSession) -> str | None:
    """None when the sandbox takes a table (created and dropped in a rolled-back transaction), else why not."""
    try:
        with session.rolled_back():
            session.fetch_all(f"CREATE TEMP TABLE {BENCHMARK_PREFIX}probe (x int)")
            session.fetch_all(f"DROP TABLE {BENCHMARK_PREFIX}probe")
    except psycopg.Error as error:
        return f"cannot create a table there ({type(error).__name__})"
    row = session.fetch_one("SELECT pg_catalog.pg_is_in_recovery()")
    if row is not None and row[0]:
        return "it is a read-only replica"
    return None


def is_monitored_database(sandbox: AgentSession, monitored: AgentSession) -> bool:
    """Whether the "sandbox" is the monitored database itself, under another URL (a host alias, a
    pooler, a typo): the monitored server sees the sandbox session's backend, same pid and start
    time, in its own database. Benchmarking there would build indexes in production."""
    row = sandbox.fetch_one(
        "SELECT pg_catalog.pg_backend_pid(), pg_catalog.current_database(),"
        " (SELECT backend_start FROM pg_catalog.pg_stat_activity WHERE pid = pg_catalog.pg_backend_pid())"
    )
    if row is None:
        return False
    pid, database, started = row
    seen = monitored.fetch_one(
        "SELECT count(*) FROM pg_catalog.pg_stat_activity"
        " WHERE pid = %s AND backend_start = %s AND datname = pg_catalog.current_database() AND datname = %s",
        [pid, started, database],
    )
    return bool(seen and seen[0])
