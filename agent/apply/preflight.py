"""Checks before a change starts: each failure is a reason a person can act on, found in seconds.

A concurrent build that starts on a standby, waits behind an old transaction or fills the disk fails
late and leaves an INVALID index behind; each of those is cheaper to see up front. What the agent
cannot know (another host's disk, other roles' transactions) becomes a warning in the result.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import psycopg
from psycopg import sql

from agent.advise.hypothetical import hypopg_schema
from agent.apply.catalog_state import TableInfo, find_table
from agent.apply.connection import ApplyConnection
from agent.apply.errors import ChangeFailed, ChangeRefused
from shared.sql.ddl_allow_list import AllowedDdl

# The sort that feeds the build can spill to disk next to the index it fills.
DISK_NEEDED_PER_INDEX_BYTE = 2
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_MIB = 1024 * 1024


def require_primary(connection: ApplyConnection) -> None:
    row = connection.fetch_one("SELECT pg_is_in_recovery()")
    if row is not None and row[0]:
        raise ChangeFailed("the server is a standby (in recovery): changes can only be made on the primary")


def require_table(connection: ApplyConnection, schema: str | None, name: str) -> TableInfo:
    table = find_table(connection, schema, name)
    if table is None:
        spelled = f"{schema}.{name}" if schema else name
        raise ChangeFailed(f"table {spelled} does not exist (or the apply role cannot see it)")
    return table


def require_payload_table(table: TableInfo, named: tuple[str, str] | None) -> None:
    """The statement's table, as the server resolved it, must be the one the job says it changes."""
    if named is not None and (table.schema, table.name) != named:
        raise ChangeRefused(
            f"the statement resolves to table {table.qualified}, not {named[0]}.{named[1]} as the job says"
        )


def refuse_partitioned(table: TableInfo) -> None:
    if table.partitioned:
        raise ChangeRefused(
            f"{table.qualified} is a partitioned table: PostgreSQL cannot build or drop its indexes "
            "concurrently; build the index on each partition instead"
        )


def old_transactions(connection: ApplyConnection, max_age_s: float) -> list[str]:
    """Fails on a transaction in this database older than max_age_s; warns when it cannot see them all."""
    rows = connection.fetch_all(
        """
        SELECT pid, floor(extract(epoch FROM now() - xact_start))::bigint
        FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid()
          AND backend_type = 'client backend'
          AND xact_start < now() - make_interval(secs => %s)
        ORDER BY xact_start
        LIMIT 5
        """,
        [max_age_s],
    )
    if rows:
        # pid and age only: the query text may hold customer data.
        listed = ", ".join(f"pid {pid} open for {age} s" for pid, age in rows)
        raise ChangeFailed(
            f"transactions older than {max_age_s:g} s are open ({listed}); a concurrent build would wait "
            "for them to end, so it was not started"
        )
    row = connection.fetch_one(
        """
        SELECT pg_has_role(current_user, 'pg_read_all_stats', 'USAGE')
               OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
        """
    )
    if row is None or not row[0]:
        return [
            "the apply role cannot see other roles' transactions (grant pg_read_all_stats): "
            "long transactions were not checked"
        ]
    return []


def hypothetical_size(connection: ApplyConnection, ddl: AllowedDdl) -> int | None:
    """HypoPG's estimate of the index's size, when the job brought none and the extension is in this
    database. The hypothetical index lives only in this backend and is reset at once."""
    schema = hypopg_schema(connection)
    if schema is None:
        return None
    functions = sql.Identifier(schema)
    # HypoPG parses a plain CREATE INDEX; the statement only ever reaches hypopg_create_index.
    plain = ddl.tree.copy()
    plain.set("concurrently", False)
    try:
        row = connection.fetch_one(
            sql.SQL("SELECT {0}.hypopg_relation_size(indexrelid) FROM {0}.hypopg_create_index(%s)").format(
                functions
            ),
            [plain.sql(dialect="postgres")],
        )
    except psycopg.Error:
        return None
    finally:
        with contextlib.suppress(psycopg.Error):
            connection.fetch_one(sql.SQL("SELECT {}.hypopg_reset()").format(functions))
    return int(row[0]) if row is not None and row[0] is not None else None


def free_disk(connection: ApplyConnection, estimated_size_bytes: int | None) -> list[str]:
    """Fails when the data directory is on this host and has too little room; otherwise warns."""
    if estimated_size_bytes is None:
        return ["the job carries no size estimate: free disk space was not checked"]
    host = connection.host
    if not (host.startswith("/") or host in _LOCAL_HOSTS):
        return ["the database runs on another host: its free disk space was not checked"]
    row = connection.fetch_one("SELECT setting FROM pg_settings WHERE name = 'data_directory'")
    if row is None or not row[0]:
        return ["the apply role may not read data_directory: free disk space was not checked"]
    data_directory = Path(str(row[0]))
    try:
        if not (data_directory / "PG_VERSION").is_file():
            raise OSError("not a data directory on this host")
        free = shutil.disk_usage(data_directory).free
    except OSError:
        return ["the data directory is not readable from the agent: free disk space was not checked"]
    needed = estimated_size_bytes * DISK_NEEDED_PER_INDEX_BYTE
    if free < needed:
        raise ChangeFailed(
            f"not enough free disk space: the build needs about {needed / _MIB:.0f} MiB (twice the "
            f"estimated index size, for the sort) and {free / _MIB:.0f} MiB are free"
        )
    return []
