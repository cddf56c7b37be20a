"""Fixtures shared by the whole suite: one throwaway cluster per session, a fresh database per test.

The cluster preloads pg_stat_statements (track=all, track_utility=on) and has HypoPG available;
pytest-postgresql's janitor clones every test database from a template that already has both
extensions, so a test starts in a database that looks like a monitored production one.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from pytest_postgresql import factories
from pytest_postgresql.janitor import DatabaseJanitor

from deploy.local.throwaway_cluster import ThrowawayCluster, start_cluster

TEMPLATE_EXTENSIONS = ("pg_stat_statements", "hypopg")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[ThrowawayCluster]:
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pg_proc(pg_cluster: ThrowawayCluster) -> Iterator[object]:
    """The executor in the shape pytest-postgresql's client factory expects, with its template ready."""
    executor = pg_cluster.executor
    template = DatabaseJanitor(
        user=executor.user,
        host=executor.host,
        port=executor.port,
        dbname=executor.template_dbname,
        maintenance_dbname=executor.maintenance_dbname,
        as_template=True,
        password=executor.password,
    )
    template.init()
    with psycopg.connect(pg_cluster.url(executor.template_dbname), autocommit=True) as conn:
        for extension in TEMPLATE_EXTENSIONS:
            conn.execute(f"CREATE EXTENSION IF NOT EXISTS {extension}")
    yield executor
    template.drop()


# A fresh database per test, cloned from the template (superuser connection, autocommit off).
postgresql = factories.postgresql("pg_proc")


@pytest.fixture
def db(postgresql: psycopg.Connection) -> psycopg.Connection:
    """The test's database as the workload sees it: a superuser connection in autocommit mode."""
    postgresql.autocommit = True
    return postgresql


@pytest.fixture
def db_url(db: psycopg.Connection, pg_cluster: ThrowawayCluster) -> str:
    return pg_cluster.url(db.info.dbname)
