"""A monitored database and its sandbox: a second database on the test cluster loaded with the same script.

Both get the same deterministic data (no random()), so the sandbox is the copy a customer would name.
`note` holds a planted value, SECRET, in a fifth of the rows: it is among the column's most common
values, so the benchmark samples it, and it must never show up in anything the agent prints or logs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg import sql

from deploy.local.throwaway_cluster import ThrowawayCluster
from tests.conftest import unique_name
from tests.integration.agent.conftest import run_agent

SECRET = "zz-secret-4242"

EVENTS = f"""
    CREATE TABLE events (
        id bigserial PRIMARY KEY,
        account_id int NOT NULL,
        device_id int NOT NULL,
        kind text NOT NULL,
        note text NOT NULL,
        amount int NOT NULL
    );
    INSERT INTO events (account_id, device_id, kind, note, amount)
    SELECT g % 2003, (g / 7) % 1009, (ARRAY['click','view','buy'])[1 + g % 3],
           CASE WHEN g % 5 = 0 THEN '{SECRET}' ELSE 'note-' || (g % 40) END, g % 1000
      FROM generate_series(1, 200000) g;
    ANALYZE events;
"""


@dataclass
class Pair:
    monitored: psycopg.Connection
    monitored_url: str
    sandbox: psycopg.Connection
    sandbox_url: str

    def load(self, script: str) -> None:
        """The same script on both: the sandbox is a copy of the monitored database."""
        self.monitored.execute(script)
        self.sandbox.execute(script)

    def workload(self, statement: str, parameters: list[list[object]]) -> None:
        """Runs on the monitored database only, with fresh counters, as the application would."""
        for values in parameters:
            self.monitored.execute(statement, values)

    def fresh_statistics(self) -> None:
        self.monitored.execute("ANALYZE")
        self.sandbox.execute("ANALYZE")
        self.monitored.execute("SELECT pg_stat_statements_reset()")

    def advise(self, *extra: str, expect_ok: bool = True) -> tuple[dict[str, Any], str]:
        result = run_agent(
            "--log-level",
            "DEBUG",
            "advise",
            "--database-url",
            self.monitored_url,
            "--sandbox-database-url",
            self.sandbox_url,
            "--format",
            "json",
            "--benchmark",
            *extra,
            env={**os.environ},
        )
        assert result.returncode == 0 or not expect_ok, result.stderr
        report: dict[str, Any] = json.loads(result.stdout) if result.returncode == 0 else {}
        return report, result.stdout + result.stderr


@pytest.fixture
def pair(db: psycopg.Connection, db_url: str, db_cluster: ThrowawayCluster) -> Iterator[Pair]:
    """The sandbox lives on the test database's own server (`both_servers` tests run on 15 and 18)."""
    name = unique_name("sandbox")
    db_cluster.create_database(name)
    sandbox = db_cluster.connect(name)
    try:
        yield Pair(db, db_url, sandbox, db_cluster.url(name))
    finally:
        sandbox.close()
        with db_cluster.connect() as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def bench_indexes(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'optischema\\_bench\\_%'")
    return [str(row[0]) for row in rows.fetchall()]


LOOKUP = "SELECT id, kind FROM events WHERE device_id = %s AND note <> %s"
UPDATE = "UPDATE events SET amount = %s WHERE device_id = %s"


def table_activity(conn: psycopg.Connection) -> tuple[Any, ...]:
    """Rows inserted, updated, deleted and scans of the user tables, as far as the server counted."""
    conn.execute("SELECT pg_stat_clear_snapshot()")
    row = conn.execute(
        "SELECT sum(n_tup_ins), sum(n_tup_upd), sum(n_tup_del), sum(seq_scan), sum(coalesce(idx_scan, 0))"
        "  FROM pg_stat_user_tables"
    ).fetchone()
    assert row is not None
    return tuple(row)


def monitored_footprint(conn: psycopg.Connection) -> tuple[Any, ...]:
    """What any statement run on the monitored database would move: rows written or scanned in the
    user tables, and the index list. The agent's catalog reads and EXPLAINs move neither."""
    indexes = conn.execute(
        "SELECT array_agg(indexname ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public'"
    ).fetchone()
    return (table_activity(conn), indexes)


def sandbox_rows(conn: psycopg.Connection) -> tuple[Any, ...]:
    row = conn.execute("SELECT count(*), sum(amount), sum(hashtext(note)) FROM events").fetchone()
    assert row is not None
    return tuple(row)


def planted(pair: Pair) -> None:
    pair.load(EVENTS)
    pair.fresh_statistics()
    pair.workload(LOOKUP, [[n, SECRET] for n in range(40)])
    pair.workload(UPDATE, [[7, n] for n in range(20)])
    # Backends report their counters at most once a second: make the workload's count now.
    pair.monitored.execute("SELECT pg_stat_force_next_flush()")
    pair.monitored.execute("SELECT 1")
