"""`optischema-agent check`: one line per prerequisite, the exact fix, exit 1 when one is missing."""

from __future__ import annotations

import psycopg
import pytest

from deploy.local.postgres_servers import PostgresServer
from deploy.local.throwaway_cluster import ThrowawayCluster, running_cluster
from tests.integration.agent.conftest import run_agent, unique_role


@pytest.mark.both_servers
def test_check_passes_on_a_ready_database(db_url: str, db_server: PostgresServer) -> None:
    result = run_agent("check", "--database-url", db_url)

    assert result.returncode == 0, result.stdout
    assert "ok    pg_stat_statements loaded" in result.stdout
    assert "info  server role: primary" in result.stdout
    if not db_server.has_extension("hypopg"):  # 18 here: advice degrades, check says how to fix it
        assert "hypopg" in result.stdout and "ok    hypopg" not in result.stdout
        assert f"PostgreSQL {db_server.major}." in result.stdout
    else:
        assert "ok    hypopg" in result.stdout


@pytest.mark.both_servers
def test_check_without_monitoring_privileges_prints_the_grant_on_either_server(
    db: psycopg.Connection, db_cluster: ThrowawayCluster
) -> None:
    role = unique_role(db, "plain_reader")

    result = run_agent("check", "--database-url", db_cluster.url(db.info.dbname, user=role))

    assert result.returncode == 1
    assert f"GRANT pg_monitor TO {role};" in result.stdout


def test_check_without_the_extension_exits_1_with_the_create_extension_fix(
    pg_cluster: ThrowawayCluster,
) -> None:
    url = pg_cluster.create_database("no_pgss")

    result = run_agent("check", "--database-url", url)

    assert result.returncode == 1
    assert (
        'fail  pg_stat_statements created: run `CREATE EXTENSION pg_stat_statements;` in database "no_pgss"'
        in (result.stdout)
    )


def test_check_on_a_server_without_preload_prints_the_shared_preload_libraries_line() -> None:
    with running_cluster(settings={"fsync": "off"}) as bare:
        url = bare.create_database("bare")

        result = run_agent("check", "--database-url", url)

    assert result.returncode == 1
    assert "shared_preload_libraries = 'pg_stat_statements'" in result.stdout
    assert "restart PostgreSQL" in result.stdout


def test_check_reports_an_unreachable_server_without_its_password() -> None:
    result = run_agent(
        "check", "--database-url", "postgresql://me:s3cret-pw@127.0.0.1:1/db?connect_timeout=1"
    )

    assert result.returncode == 1
    assert "fail  connection: cannot connect to postgresql://me:***@127.0.0.1:1/db" in result.stdout
    assert "s3cret-pw" not in result.stdout + result.stderr
