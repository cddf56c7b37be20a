"""A lost connection is DatabaseUnavailable, said in one line, and the pool heals itself.

The server ends the agent's backends here with `pg_terminate_backend`, which is what a restart or
a crashed neighbour does to them (the client sees AdminShutdown, 57P01, or a closed socket): once
while a session is in use, once while the connection sits idle in the pool.
"""

from __future__ import annotations

import psycopg
import pytest

from agent.config import CollectorSettings, SessionLimits
from agent.db.session import DatabaseUnavailable, MonitoredDatabase
from agent.snapshot.collector import Collector
from deploy.local.throwaway_cluster import free_port
from tests.integration.agent.conftest import run_agent


def backend_pid(database: MonitoredDatabase) -> int:
    with database.session() as session:
        row = session.fetch_one("SELECT pg_backend_pid()")
    assert row is not None
    return int(row[0])


def terminate(db: psycopg.Connection, pid: int) -> None:
    assert db.execute("SELECT pg_terminate_backend(%s, 5000)", [pid]).fetchone() == (True,)


def test_a_backend_ended_under_a_session_is_database_unavailable_and_the_next_session_works(
    db: psycopg.Connection, db_url: str
) -> None:
    with MonitoredDatabase(db_url, SessionLimits(max_connections=1)) as database:
        with pytest.raises(DatabaseUnavailable) as lost, database.session() as session:
            (pid,) = session.fetch_one("SELECT pg_backend_pid()") or (0,)
            terminate(db, pid)
            session.fetch_one("SELECT 1")
        after = backend_pid(database)

    assert "lost the connection to" in str(lost.value)
    assert "password" not in str(lost.value)
    assert after != pid


def test_a_connection_ended_while_idle_in_the_pool_is_replaced_before_it_is_lent(
    db: psycopg.Connection, db_url: str
) -> None:
    # A clean restart of the monitored server kills every pooled connection between two cycles:
    # the next cycle must collect, not fail on the first statement (it used to exit the daemon).
    with MonitoredDatabase(db_url, SessionLimits(max_connections=1)) as database:
        before = backend_pid(database)
        terminate(db, before)
        collection = Collector(database, CollectorSettings(plans_per_cycle=0)).collect()
        after = backend_pid(database)

    assert collection.snapshot.server.version_num > 0
    assert after != before


@pytest.mark.parametrize("command", ["snapshot", "advise"])
def test_snapshot_and_advise_without_a_server_say_so_in_one_line_and_exit_1(command: str) -> None:
    url = f"postgresql://agent:secret-pw@127.0.0.1:{free_port()}/shop"
    result = run_agent(
        command,
        env={"OPTISCHEMA_DATABASE_URL": url, "OPTISCHEMA_CONNECT_TIMEOUT_S": "1", "PATH": "/usr/bin:/bin"},
    )

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith(f"optischema-agent {command}:")]
    assert "cannot connect to" in line
    assert "secret-pw" not in result.stderr + result.stdout
