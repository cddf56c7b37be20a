"""A polite guest never takes the server down, and works whatever the database's own defaults say.

One cluster of the module's own preloads pg_qualstats with `sample_rate = 1` (the configuration
under which pg_qualstats 2.0.4 crashed a backend while the agent explained a partitionwise join),
runs a partition-heavy workload, and drives every plan path the agent has: `snapshot` (generic plans
of the busiest statements), `advise` (the advisor under HypoPG) and a `simulate_indexes` job. The
postmaster must still be the one that started (a crashed backend restarts them all) and its log must
hold no terminated backend. A second group runs `snapshot` and `advise` on a database whose default
DateStyle is `SQL, DMY`, IntervalStyle `sql_standard` and TimeZone far from UTC.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

import psycopg
import pytest

from agent.collect.plans import GENERIC_PLAN_OPTION_VERSION
from agent.config import CollectorSettings, SessionLimits
from agent.db.session import MonitoredDatabase
from agent.jobs.simulate import simulate_indexes
from agent.snapshot.collector import Collector
from deploy.local.throwaway_cluster import MONITORED_SERVER_SETTINGS, ThrowawayCluster, start_cluster
from shared.wire.jobs import CandidateIndexSpec, SimulateIndexesPayload
from tests.integration.agent.conftest import run_agent
from tests.integration.agent.partitioned_workload import load_partitioned_workload

QUALSTATS_SETTINGS = {
    **MONITORED_SERVER_SETTINGS,
    "shared_preload_libraries": "pg_stat_statements,pg_qualstats",
    "pg_qualstats.sample_rate": "1",
    "enable_partitionwise_join": "on",
    "enable_partitionwise_aggregate": "on",
}


@pytest.fixture(scope="module")
def qualstats_cluster() -> Iterator[ThrowawayCluster]:
    cluster = start_cluster(QUALSTATS_SETTINGS)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def partitioned_url(qualstats_cluster: ThrowawayCluster) -> str:
    url = qualstats_cluster.create_database("partitioned", ("pg_stat_statements", "hypopg", "pg_qualstats"))
    with qualstats_cluster.connect("partitioned") as conn:
        load_partitioned_workload(conn)
    return url


def postmaster_started(cluster: ThrowawayCluster) -> datetime:
    with cluster.connect() as conn:
        row = conn.execute("SELECT pg_postmaster_start_time()").fetchone()
    assert row is not None
    started: datetime = row[0]
    return started


def crash_lines(cluster: ThrowawayCluster) -> list[str]:
    return [
        line
        for line in cluster.log_text().splitlines()
        if "terminated by signal" in line or "was terminated" in line or "all server processes" in line
    ]


def agent_env(url: str) -> dict[str, str]:
    return {"OPTISCHEMA_DATABASE_URL": url, "PATH": "/usr/bin:/bin", "OPTISCHEMA_PLANS_PER_CYCLE": "50"}


@pytest.mark.parametrize("superuser", [True, False], ids=["superuser", "pg_monitor"])
def test_the_agents_sessions_switch_pg_qualstats_off_and_keep_the_database_search_path(
    qualstats_cluster: ThrowawayCluster, partitioned_url: str, superuser: bool
) -> None:
    url = partitioned_url
    if not superuser:
        # The role the README asks for: auto_explain's and pg_store_plans' settings are superuser
        # only and are refused here, which must cost nothing but a debug line.
        with qualstats_cluster.connect("partitioned") as conn:
            conn.execute("DROP ROLE IF EXISTS polite_monitor")
            conn.execute("CREATE ROLE polite_monitor LOGIN IN ROLE pg_monitor")
        url = qualstats_cluster.url("partitioned", user="polite_monitor")
    with MonitoredDatabase(url, SessionLimits()) as database, database.session() as session:
        row = session.fetch_one(
            "SELECT current_setting('pg_qualstats.enabled'), current_setting('DateStyle'), "
            "current_setting('IntervalStyle'), current_setting('TimeZone'), "
            "current_setting('extra_float_digits'), current_setting('search_path')"
        )
    assert row == ("off", "ISO, MDY", "postgres", "UTC", "3", 'pg_catalog, "$user", public')


def test_every_plan_path_runs_on_a_pg_qualstats_server_without_a_backend_crash(
    qualstats_cluster: ThrowawayCluster, partitioned_url: str
) -> None:
    started = postmaster_started(qualstats_cluster)

    snapshot = run_agent("snapshot", env=agent_env(partitioned_url))
    advice = run_agent("advise", "--format", "json", env=agent_env(partitioned_url))
    with MonitoredDatabase(partitioned_url, SessionLimits()) as database:
        collector = Collector(database, CollectorSettings(plans_per_cycle=0))
        version = collector.collect().snapshot.server.version_num
        texts = collector.statement_texts()
        joins = [fp for fp, text in texts.items() if " JOIN " in text]
        with database.session() as session:
            result = simulate_indexes(
                session,
                SimulateIndexesPayload(
                    candidates=[CandidateIndexSpec(table="public.parcels", columns=["shipment"])],
                    fingerprints=joins[:20],
                ),
                texts,
                {"public.parcels": {"id", "shipment", "note"}},
                version,
            )

    assert snapshot.returncode == 0, snapshot.stderr[-2000:]
    assert advice.returncode == 0, advice.stderr[-2000:]
    assert crash_lines(qualstats_cluster) == []
    assert postmaster_started(qualstats_cluster) == started
    plans = json.loads(snapshot.stdout)["plans"]
    assert len(plans) >= 5, "the partitionwise joins were planned, not skipped"
    assert json.loads(advice.stdout)["statements_analyzed"] >= 5
    assert [cost for cost in result.statements if cost.cost_before is not None], result
    assert version < GENERIC_PLAN_OPTION_VERSION or plans


@pytest.fixture
def dmy_url(db: psycopg.Connection, db_url: str) -> str:
    """A database whose own defaults are as far from the agent's expectations as PostgreSQL allows."""
    name = db.info.dbname
    for setting, value in (
        ("DateStyle", "SQL, DMY"),
        ("IntervalStyle", "sql_standard"),
        ("TimeZone", "Asia/Kathmandu"),
        ("extra_float_digits", "-3"),
    ):
        db.execute(f"ALTER DATABASE {name} SET {setting} = '{value}'")
    with psycopg.connect(db_url, autocommit=True) as workload:
        workload.execute("CREATE TABLE visits (id int PRIMARY KEY, seen_at timestamptz, stay interval)")
        workload.execute(
            "INSERT INTO visits SELECT g, now() - g * interval '1 minute', g * interval '1 second' "
            "FROM generate_series(1, 20000) g"
        )
        workload.execute("ANALYZE visits")
        for _ in range(3):
            workload.execute("SELECT count(*) FROM visits WHERE seen_at > now() - interval '1 hour'")
        assert workload.execute("SHOW DateStyle").fetchone() == ("SQL, DMY",)
    return db_url


def test_snapshot_and_advise_work_on_a_database_whose_defaults_are_not_iso(dmy_url: str) -> None:
    snapshot = run_agent("snapshot", env=agent_env(dmy_url))
    advice = run_agent("advise", "--format", "json", env=agent_env(dmy_url))

    assert snapshot.returncode == 0, snapshot.stderr[-2000:]
    assert advice.returncode == 0, advice.stderr[-2000:]
    payload = json.loads(snapshot.stdout)
    collected_at = datetime.fromisoformat(payload["collected_at"])
    assert collected_at.utcoffset() is not None
    assert any("visits" in statement["query"] for statement in payload["statements"])
    # A timestamp read from the server under the database's 'SQL, DMY' and Asia/Kathmandu defaults
    # is the instant an ISO session reads (day and month not swapped, the +05:45 not lost).
    [visits] = [table for table in payload["tables"] if table["name"] == "visits"]
    with psycopg.connect(dmy_url, autocommit=True, options="-c DateStyle=ISO") as reader:
        row = reader.execute(
            "SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'visits'"
        ).fetchone()
    assert row is not None and row[0] is not None
    assert datetime.fromisoformat(visits["last_analyze"]) == row[0]
    assert json.loads(advice.stdout)["statements_analyzed"] >= 1
