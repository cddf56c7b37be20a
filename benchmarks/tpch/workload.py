"""The workload and the one yardstick every method is judged by.

The workload: TPC-H without queries 2, 17 and 20 (correlated subqueries that dominate the cost and run
for very long without indexes; excluded as in Kossmann et al., VLDB 2020), each query executed
`repetitions` times with its literal values, so that an advisor sees only the normalized text in
pg_stat_statements.

The yardstick: in one session, EXPLAIN's total cost of every query text, weighted by its calls, with no
secondary index and then with a method's indexes as HypoPG hypothetical indexes; the storage of a
method is HypoPG's estimated size of those indexes (what Extend's budget is measured in), reported
beside the real size once they are built (HypoPG overestimates btrees 2-4x since deduplication).
The same call-weighted EXPLAIN cost is taken again with the indexes built for real, which shows what
HypoPG's approximations (size, btree height) did to the hypothetical figure.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import psycopg
from psycopg import errors

from benchmarks.tpch.data import log

EXCLUDED_QUERIES = (2, 17, 20)
CONCURRENTLY = re.compile(r"\bCONCURRENTLY\b", re.IGNORECASE)


def workload_queries(all_queries: Mapping[int, str]) -> dict[int, str]:
    return {nr: text for nr, text in sorted(all_queries.items()) if nr not in EXCLUDED_QUERIES}


@dataclass
class WorkloadRun:
    seconds: float = 0.0
    calls: dict[int, int] = field(default_factory=dict)
    timeouts: list[int] = field(default_factory=list)
    per_query: dict[int, float] = field(default_factory=dict)


def run_workload(url: str, queries: Mapping[int, str], repetitions: int, timeout_s: float) -> WorkloadRun:
    """Every query `repetitions` times, in order, with a per-statement timeout; wall time per query."""
    run = WorkloadRun()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"SET statement_timeout = {int(timeout_s * 1000)}")
        for _ in range(repetitions):
            for nr, text in queries.items():
                started = time.perf_counter()
                try:
                    conn.execute(text).fetchall()
                    run.calls[nr] = run.calls.get(nr, 0) + 1
                except errors.QueryCanceled:
                    run.timeouts.append(nr)
                elapsed = time.perf_counter() - started
                run.per_query[nr] = run.per_query.get(nr, 0.0) + elapsed
                run.seconds += elapsed
    slowest = sorted(run.per_query.items(), key=lambda item: -item[1])[:3]
    log(
        f"workload: {run.seconds:.1f} s, timeouts {run.timeouts or 'none'}, slowest "
        + ", ".join(f"Q{nr} {seconds:.1f} s" for nr, seconds in slowest)
    )
    return run


@dataclass
class Evaluation:
    """One method's indexes measured by the yardstick."""

    indexes: list[str]
    cost_before: float
    cost_after: float
    estimated_bytes: int
    rejected: list[str] = field(default_factory=list)  # statements HypoPG could not simulate

    @property
    def cut_pct(self) -> float:
        return 100.0 * (1.0 - self.cost_after / self.cost_before) if self.cost_before else 0.0


def workload_cost(conn: psycopg.Connection, queries: Mapping[int, str], weights: Mapping[int, int]) -> float:
    """Sum over the workload of calls x EXPLAIN total cost, under whatever indexes `conn` sees."""
    total = 0.0
    for nr, text in queries.items():
        row = conn.execute(f"EXPLAIN (FORMAT JSON) {text}").fetchone()
        assert row is not None
        total += weights.get(nr, 0) * float(row[0][0]["Plan"]["Total Cost"])
    return total


class Yardstick:
    """One session with HypoPG: call-weighted EXPLAIN cost of the workload under a set of indexes."""

    def __init__(self, url: str, queries: Mapping[int, str], weights: Mapping[int, int]) -> None:
        self.queries = dict(queries)
        self.weights = dict(weights)
        self.conn = psycopg.connect(url, autocommit=True)
        self.conn.execute("SELECT hypopg_reset()")
        self.baseline = self.workload_cost()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Yardstick:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def workload_cost(self) -> float:
        return workload_cost(self.conn, self.queries, self.weights)

    def evaluate(self, indexes: Sequence[str]) -> Evaluation:
        self.conn.execute("SELECT hypopg_reset()")
        estimated, rejected = 0, []
        for statement in indexes:
            hypothetical = CONCURRENTLY.sub("", statement).strip().rstrip(";")
            try:
                row = self.conn.execute(
                    "SELECT hypopg_relation_size(indexrelid) FROM hypopg_create_index(%s)", (hypothetical,)
                ).fetchone()
            except psycopg.Error as error:
                rejected.append(f"{statement}: {error}".strip())
                continue
            estimated += int(row[0]) if row else 0
        after = self.workload_cost()
        self.conn.execute("SELECT hypopg_reset()")
        return Evaluation(list(indexes), self.baseline, after, estimated, rejected)


def secondary_indexes(conn: psycopg.Connection) -> dict[str, int]:
    """Every index of the public schema that backs no constraint, with its size in bytes."""
    rows = conn.execute(
        """
        SELECT format('%I.%I', n.nspname, c.relname), pg_relation_size(c.oid)
          FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public'
           AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = i.indexrelid)
        """
    ).fetchall()
    return {str(name): int(size) for name, size in rows}


def drop_secondary_indexes(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for name in secondary_indexes(conn):
            conn.execute(f"DROP INDEX IF EXISTS {name}")


@dataclass
class Built:
    real_bytes: int
    seconds: float
    failures: list[str]
    cost_after: float  # the yardstick with the real indexes instead of hypothetical ones


def build_indexes(
    url: str,
    statements: Iterable[str],
    timeout_s: float,
    queries: Mapping[int, str],
    weights: Mapping[int, int],
) -> Built:
    """Builds the statements for real: their size, build time, failures and the workload's EXPLAIN cost."""
    failures: list[str] = []
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"SET statement_timeout = {int(timeout_s * 1000)}")
        conn.execute("SET maintenance_work_mem = '256MB'")
        for statement in statements:
            try:
                conn.execute(statement)
            except psycopg.Error as error:
                failures.append(f"{statement}: {error}".strip())
        # No ANALYZE afterwards: its fresh random sample would change the plans of the other tables too.
        seconds = time.perf_counter() - started
        built = sum(secondary_indexes(conn).values())
        conn.execute("RESET statement_timeout")
        cost_after = workload_cost(conn, queries, weights)
    return Built(built, seconds, failures, cost_after)
