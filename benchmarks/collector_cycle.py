"""One steady-state collection cycle with 5,000 distinct statements over 200 tables.

The agent runs in a child process so that its peak memory is its own, not the workload's.
Budget on the reference machine: under 1 s, under 150 MB, fewer than 20 catalog queries
(EXPLAIN and the statements around it are counted apart).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time

import psycopg

from agent.db.session import MonitoredDatabase
from agent.snapshot.collector import Collector
from deploy.local.throwaway_cluster import MONITORED_SERVER_SETTINGS, running_cluster

TABLES = 200
STATEMENTS_PER_TABLE = 25
COLUMNS = ("a", "b", "c", "d", "e")


def statement_shapes(table: str) -> list[str]:
    """25 distinct statements per table: 5 columns x 5 shapes."""
    shapes = []
    for column in COLUMNS:
        shapes += [
            f"SELECT * FROM {table} WHERE {column} = 1",
            f"SELECT count(*) FROM {table} WHERE {column} > 2",
            f"SELECT {column}, count(*) FROM {table} GROUP BY {column}",
            f"UPDATE {table} SET {column} = {column} WHERE id = 3",
            f"SELECT id FROM {table} WHERE {column} BETWEEN 1 AND 4 ORDER BY {column} LIMIT 5",
        ]
    return shapes


def build_workload(url: str) -> list[str]:
    statements: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        for number in range(TABLES):
            table = f"bench_{number:03d}"
            conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, a int, b int, c int, d int, e int)")
            conn.execute(
                f"INSERT INTO {table} SELECT g, g % 10, g % 7, g % 3, g, g % 2 FROM generate_series(1, 50) g"
            )
            statements += statement_shapes(table)
        conn.execute("ANALYZE")
        for statement in statements:
            conn.execute(statement)
    return statements


def agent_child(url: str) -> None:
    """Runs in the child: a warm-up cycle, waits for the parent's workload, then the measured cycle."""
    with MonitoredDatabase(url) as database:
        collector = Collector(database)
        cold_started = time.perf_counter()
        collector.collect()  # every text fetched and anonymized once
        cold_seconds = time.perf_counter() - cold_started
        print("warm", flush=True)
        sys.stdin.readline()
        catalog_before, workload_before = database.statements_sent, database.workload_statements_sent
        started = time.perf_counter()
        collection = collector.collect()
        elapsed = time.perf_counter() - started
        result = {
            "cycle_seconds": elapsed,
            "cold_cycle_seconds": cold_seconds,
            "catalog_queries": database.statements_sent - catalog_before,
            "explain_statements": database.workload_statements_sent - workload_before,
            "statements_in_snapshot": len(collection.snapshot.statements),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    print(json.dumps(result), flush=True)


def main() -> list[dict[str, object]]:
    with running_cluster({**MONITORED_SERVER_SETTINGS, "pg_stat_statements.max": "10000"}) as cluster:
        url = cluster.create_database("bench", extensions=("pg_stat_statements",))
        statements = build_workload(url)
        child = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.collector_cycle", "--agent", url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdin and child.stdout
        assert child.stdout.readline().strip() == "warm"
        with psycopg.connect(url, autocommit=True) as conn:  # a busy interval: a tenth of the statements
            for statement in statements[::10]:
                conn.execute(statement)
        child.stdin.write("go\n")
        child.stdin.flush()
        figures = json.loads(child.stdout.readline())
        child.wait(timeout=60)
    return [
        {"name": "collector_cycle_wall_time", "value": round(figures["cycle_seconds"], 4), "unit": "s", "budget": 1.0},
        {"name": "collector_first_cycle_wall_time", "value": round(figures["cold_cycle_seconds"], 3), "unit": "s",
         "budget": None},
        {"name": "collector_peak_rss", "value": round(figures["peak_rss_mb"], 1), "unit": "MB", "budget": 150},
        {"name": "collector_catalog_queries", "value": figures["catalog_queries"], "unit": "queries", "budget": 19},
        {"name": "collector_explain_statements", "value": figures["explain_statements"], "unit": "statements",
         "budget": None},
        {"name": "collector_statements_in_snapshot", "value": figures["statements_in_snapshot"],
         "unit": "statements", "budget": None},
        {"name": "collector_distinct_statements", "value": len(statements), "unit": "statements", "budget": None},
    ]  # fmt: skip


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--agent":
        agent_child(sys.argv[2])
    else:
        print(json.dumps({"benchmarks": main()}, indent=2))
