"""The generated select lists against a real server, for every extension version it can install.

The test server is one major version, but CREATE EXTENSION ... VERSION installs the older view
definitions (the library keeps their entry points), which is exactly the state a pg_upgrade'd server
is left in. 1.11 needs PostgreSQL 17 and is only covered by the unit tests on this server.
"""

from __future__ import annotations

import psycopg
import pytest

from agent.collect.statement_columns import PGSS_COLUMNS_BY_VERSION, statement_column_mapping
from agent.diff.statement_deltas import Counters
from shared.wire.snapshot import StatementCounters

# Debian's PostgreSQL and PostgreSQL 18 alike (tests/conftest.py).
pytestmark = pytest.mark.both_servers

VIEW_COLUMNS = """
    SELECT a.attname FROM pg_attribute a
     WHERE a.attrelid = 'pg_stat_statements'::regclass AND a.attnum > 0 AND NOT a.attisdropped
"""


def view_columns(db: psycopg.Connection) -> frozenset[str]:
    return frozenset(str(name) for (name,) in db.execute(VIEW_COLUMNS).fetchall())


def installed_version(db: psycopg.Connection) -> str:
    row = db.execute("SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements'").fetchone()
    assert row is not None
    return str(row[0])


def install(db: psycopg.Connection, version: str) -> None:
    available = db.execute(
        "SELECT 1 FROM pg_available_extension_versions WHERE name = 'pg_stat_statements' AND version = %s",
        [version],
    ).fetchone()
    if available is None:
        pytest.skip(f"this server cannot install pg_stat_statements {version}")
    db.execute("DROP EXTENSION pg_stat_statements")
    db.execute(f"CREATE EXTENSION pg_stat_statements VERSION '{version}'")


def check_rows(db: psycopg.Connection, query: str, expected_names: list[str]) -> None:
    db.execute("CREATE TABLE t (id int)")
    db.execute("INSERT INTO t SELECT generate_series(1, 100)")
    db.execute("SELECT count(*) FROM t").fetchone()
    with db.cursor() as cur:
        cur.execute(query)
        assert cur.description is not None
        assert [column.name for column in cur.description] == expected_names
        rows = cur.fetchall()
    assert rows, "the workload above should have left entries"
    for row in rows:
        userid, dbid, queryid, toplevel, *counters = row
        assert all(isinstance(value, int) for value in (userid, dbid, queryid))
        assert isinstance(toplevel, bool)
        values = dict(zip(expected_names[4:], counters, strict=True))
        for name, value in values.items():
            # No Decimal (wal_bytes is numeric in the view) and no int where the wire wants a float.
            assert type(value) is StatementCounters.model_fields[name].annotation, (name, value)
        StatementCounters(**values)  # non-negative, as the wire requires
        Counters(**values)


@pytest.mark.parametrize("version", ["1.7", "1.8", "1.9", "1.10", "1.11", "1.12"])
def test_view_of_each_installable_version_matches_the_documented_columns_and_mapping_runs(
    db: psycopg.Connection, version: str
) -> None:
    install(db, version)
    assert installed_version(db) == version
    columns = view_columns(db)
    assert columns == PGSS_COLUMNS_BY_VERSION[version]

    mapping = statement_column_mapping(columns)
    names = ["userid", "dbid", "queryid", "toplevel", *mapping.counter_names]
    check_rows(
        db,
        f"SELECT {mapping.select_list} FROM pg_stat_statements"
        " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
        names,
    )


def test_mapping_of_the_default_version_runs_against_the_function_without_query_text(
    db: psycopg.Connection,
) -> None:
    version = installed_version(db)
    columns = view_columns(db)
    assert columns == PGSS_COLUMNS_BY_VERSION[version]
    mapping = statement_column_mapping(columns)
    check_rows(
        db,
        f"SELECT {mapping.select_list} FROM pg_stat_statements(false)"
        " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
        ["userid", "dbid", "queryid", "toplevel", *mapping.counter_names],
    )
