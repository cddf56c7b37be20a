"""Snapshot ingestion and workload reads against the real control plane server.

A throwaway PostgreSQL holds the metadata database; `optischema-admin` migrates it and creates a
tenant; `optischema-control-plane` runs as a subprocess on a free loopback port, exactly as an
operator starts it. Then, over HTTP:

1. one agent posts snapshots of 5,000 distinct statements one after the other (latency p50/p99);
2. several agents post concurrently while readers call top queries and one query's detail on
   databases that already have data, until ingestion ends (latencies, snapshots per second).

Bodies are built with the shared wire models, serialized and gzipped before any timing, the way
the agent sends them. A snapshot is answered 202 once it is validated and in the inbox; the
server's own workers (OPTISCHEMA_WORKERS=on) store it, and the end checks that all were stored.
Budget on the reference machine (2 cores): a snapshot answered in under 500 ms p50, reads under
100 ms p99 while ingesting, and no failed request.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from deploy.local.control_plane_process import control_plane_server, run_admin
from deploy.local.throwaway_cluster import running_cluster
from shared.version import PRODUCT_VERSION
from shared.wire.snapshot import (
    ColumnStats,
    IndexStats,
    IntervalInfo,
    PlanSample,
    ServerInfo,
    Snapshot,
    StatementStats,
    StatementType,
    TableStats,
    gzipped_json,
)

STATEMENTS = 5_000
TABLES = 120
PLANS = 20  # plan samples per snapshot, as the agent sends for its most expensive statements
SEQUENTIAL_SNAPSHOTS = 10
AGENTS = 4  # one monitored database (and agent token) each
SNAPSHOTS_PER_AGENT = 5
READERS = 4
READER_PAUSE_S = 0.0  # readers call back to back: the worst case for the read latency
MAX_READS_PER_READER = 2_000
INTERVAL = timedelta(seconds=30)  # one snapshot per simulated collection interval

REQUEST_TIMEOUT_S = 60.0
STORE_TIMEOUT_S = 300.0
# The server stores what it accepts with its own workers (benchmarks.ingestion_workers runs
# separate worker processes, as operators scale it).
SERVER_ENV = {"OPTISCHEMA_WORKERS": "on", "OPTISCHEMA_SNAPSHOT_INBOX_INTERVAL_S": "0.05"}
CONCURRENT_PHASE_TIMEOUT_S = 150.0

METADATA_SETTINGS = {
    "fsync": "off",  # throwaway data
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}
ADMIN_EMAIL = "admin@bench.example"
ADMIN_PASSWORD = "a benchmark admin password, long enough"


def say(message: str) -> None:
    print(f"control_plane_ingestion: {message}", file=sys.stderr, flush=True)


# --- the workload: 5,000 anonymized statements per database -------------------------------------

COLUMNS = ("status", "customer_id", "created_at", "updated_at", "region", "amount_cents", "sku", "owner_id")
WORDS = ("orders", "customers", "invoices", "shipments", "products", "payments", "events", "accounts")


@dataclass(frozen=True)
class Statement:
    fingerprint: str
    query: str
    statement_type: StatementType
    relations: list[str]
    weight: float  # how busy the statement is: heavy-tailed, like a real workload


@dataclass(frozen=True)
class Workload:
    statements: list[Statement]
    tables: list[TableStats]
    indexes: list[IndexStats]


def _statement_text(rng: random.Random, tables: Sequence[str]) -> tuple[str, StatementType, list[str]]:
    table, other = rng.sample(tables, 2)
    a, b, c = rng.sample(COLUMNS, 3)
    shape = rng.randrange(6)
    if shape == 0:
        return (
            f"SELECT t.id, t.{a}, t.{b}, o.{c} FROM {table} t JOIN {other} o ON o.id = t.{b} "
            f"WHERE t.{a} = $1 AND o.{c} >= $2 ORDER BY t.{b} DESC LIMIT $3",
            "select",
            [table, other],
        )
    if shape == 1:
        return (
            f"SELECT {a}, count(*) AS n, sum({b}) AS total FROM {table} WHERE {c} BETWEEN $1 AND $2 "
            f"GROUP BY {a} HAVING count(*) > $3 ORDER BY total DESC",
            "select",
            [table],
        )
    if shape == 2:
        return (
            f"UPDATE {table} SET {a} = $1, {b} = $2, updated_at = now() WHERE id = $3 AND {c} = $4 "
            f"RETURNING id, {a}",
            "update",
            [table],
        )
    if shape == 3:
        return (
            f"INSERT INTO {table} (id, {a}, {b}, {c}, created_at) VALUES ($1, $2, $3, $4, now()) "
            f"ON CONFLICT (id) DO UPDATE SET {a} = excluded.{a}",
            "insert",
            [table],
        )
    if shape == 4:
        return (
            f"DELETE FROM {table} WHERE {a} < $1 AND {b} = $2 AND NOT EXISTS "
            f"(SELECT 1 FROM {other} o WHERE o.id = {table}.{c})",
            "delete",
            [table, other],
        )
    return (
        f"SELECT * FROM {table} WHERE {a} = ANY($1) AND {b} IS NOT NULL AND {c} > $2 "
        f"ORDER BY {c} LIMIT $3 OFFSET $4",
        "select",
        [table],
    )


def build_workload(seed: int) -> Workload:
    rng = random.Random(seed)
    tables = [f"public.{rng.choice(WORDS)}_{n:03d}" for n in range(TABLES)]
    seen: set[str] = set()
    statements: list[Statement] = []
    while len(statements) < STATEMENTS:
        query, statement_type, relations = _statement_text(rng, tables)
        if query in seen:
            continue
        seen.add(query)
        fingerprint = hashlib.sha256(query.encode()).hexdigest()[:16]
        statements.append(Statement(fingerprint, query, statement_type, relations, rng.paretovariate(1.2)))
    assert len({s.fingerprint for s in statements}) == STATEMENTS
    table_stats = [
        TableStats(
            schema_name="public",
            name=name.split(".", 1)[1],
            row_estimate=float(rng.randrange(1_000, 10_000_000)),
            total_bytes=rng.randrange(1 << 20, 1 << 32),
            table_bytes=rng.randrange(1 << 20, 1 << 31),
            index_bytes=rng.randrange(1 << 16, 1 << 30),
            seq_scan=rng.randrange(10_000),
            idx_scan=rng.randrange(1_000_000),
            n_live_tup=rng.randrange(10_000_000),
            columns=[
                ColumnStats(name=column, type="bigint", not_null=column == "id", n_distinct=-1.0)
                for column in ("id", *COLUMNS)
            ],
        )
        for name in tables
    ]
    indexes = [
        IndexStats(
            schema_name="public",
            table=table.name,
            name=f"{table.name}_pkey",
            definition=f"CREATE UNIQUE INDEX {table.name}_pkey ON public.{table.name} USING btree (id)",
            columns=["id"],
            access_method="btree",
            is_unique=True,
            is_primary=True,
            is_valid=True,
            is_partial=False,
            backs_constraint=True,
            size_bytes=table.index_bytes,
        )
        for table in table_stats
    ]
    return Workload(statements, table_stats, indexes)


def snapshot_body(workload: Workload, rng: random.Random, collected_at: datetime) -> bytes:
    """One interval of the workload, as the agent sends it to a control plane it has sent none of
    the texts yet: JSON, gzipped."""
    return gzipped_json(workload_snapshot(workload, rng, collected_at))


def workload_snapshot(workload: Workload, rng: random.Random, collected_at: datetime) -> Snapshot:
    """One interval of the workload, every statement with its text, as the agent spools it."""
    statements = []
    for s in workload.statements:
        calls = 1 + int(s.weight * rng.uniform(1, 40))
        mean_ms = s.weight * rng.uniform(0.05, 4.0)
        statements.append(
            StatementStats(
                fingerprint=s.fingerprint,
                query=s.query,
                statement_type=s.statement_type,
                relations=s.relations,
                calls=calls,
                rows=calls * rng.randrange(1, 50),
                total_exec_time_ms=round(calls * mean_ms, 3),
                total_plan_time_ms=round(calls * rng.uniform(0.01, 0.2), 3),
                shared_blks_hit=calls * rng.randrange(1, 200),
                shared_blks_read=rng.randrange(0, 5 * calls),
                shared_blks_dirtied=rng.randrange(0, calls),
                temp_blks_written=rng.choice((0, 0, 0, rng.randrange(1, 1_000))),
                blk_read_time_ms=round(rng.uniform(0, mean_ms), 3),
                wal_bytes=rng.randrange(0, 10_000) if s.statement_type != "select" else 0,
            )
        )
    busiest = sorted(statements, key=lambda stat: stat.total_exec_time_ms, reverse=True)[:PLANS]
    return Snapshot(
        snapshot_id=uuid.uuid4(),
        agent_version=PRODUCT_VERSION,
        collected_at=collected_at,
        database_name="shop",
        interval=IntervalInfo(
            kind="delta",
            started_at=collected_at - INTERVAL,
            ended_at=collected_at,
            seconds=INTERVAL.total_seconds(),
        ),
        server=ServerInfo(
            version="15.20",
            version_num=150020,
            is_replica=False,
            settings={"work_mem": "4096kB", "shared_buffers": "131072 8kB"},
            cache_hit_ratio=0.987,
            connections_by_state={"active": 7, "idle": 31},
            transactions_per_second=412.5,
            pg_stat_statements_max=10_000,
        ),
        statements=statements,
        tables=workload.tables,
        indexes=workload.indexes,
        plans=[
            PlanSample(
                fingerprint=stat.fingerprint,
                generic=True,
                total_cost=round(stat.total_exec_time_ms, 2),
                plan={"Plan": {"Node Type": "Seq Scan", "Relation Name": "t", "Total Cost": 1.0}},
            )
            for stat in busiest
        ],
    )


def interval_ends(count: int, now: datetime) -> list[datetime]:
    """`count` interval ends, 30 s apart, all today (UTC) so they land in today's partition."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    first = max(midnight + timedelta(seconds=1), now - count * INTERVAL)
    return [first + n * INTERVAL for n in range(count)]


# --- measuring ----------------------------------------------------------------------------------


@dataclass
class Recorder:
    ingest_ms: list[float] = field(default_factory=list)
    top_ms: list[float] = field(default_factory=list)
    detail_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stored: int = 0

    def error(self, message: str) -> None:
        if len(self.errors) < 20:
            say(f"error: {message}")
        self.errors.append(message)


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * fraction
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def post_snapshot(client: httpx.AsyncClient, token: str, body: bytes, recorder: Recorder) -> bool:
    headers = {**bearer(token), "Content-Type": "application/json", "Content-Encoding": "gzip"}
    started = time.perf_counter()
    try:
        response = await client.post("/api/v1/agent/snapshots", content=body, headers=headers)
    except httpx.HTTPError as error:
        recorder.error(f"POST /agent/snapshots: {type(error).__name__}: {error}")
        return False
    elapsed_ms = (time.perf_counter() - started) * 1000
    if response.status_code != 202 or response.json().get("accepted") is not True:
        recorder.error(f"POST /agent/snapshots: {response.status_code} {response.text[:300]}")
        return False
    recorder.ingest_ms.append(elapsed_ms)
    recorder.stored += 1
    return True


async def read_once(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    database_id: str,
    rng: random.Random,
    recorder: Recorder,
    now: datetime | None = None,
) -> None:
    """Top queries by total time, then the detail of one of them: what the dashboard shows, by
    default (the last day, and the last week's series), as of `now` when the snapshots' clock is
    not the wall clock's (the range's end, where the dashboard's is the time it asks)."""
    path = f"/api/v1/databases/{database_id}/queries"

    def last(days: int) -> dict[str, str]:
        """The range of the last `days` up to `now`; none (the server's default, up to its now) without."""
        return (
            {} if now is None else {"from": (now - timedelta(days=days)).isoformat(), "to": now.isoformat()}
        )

    started = time.perf_counter()
    try:
        response = await client.get(
            path, params={"order_by": "total_time", "limit": 50, **last(1)}, headers=headers
        )
    except httpx.HTTPError as error:
        recorder.error(f"GET queries: {type(error).__name__}: {error}")
        return
    recorder.top_ms.append((time.perf_counter() - started) * 1000)
    rows: Any = response.json() if response.status_code == 200 else None
    if not isinstance(rows, list) or len(rows) != 50:
        recorder.error(f"GET queries: {response.status_code} {response.text[:300]}")
        return
    fingerprint = rows[rng.randrange(len(rows))]["fingerprint"]
    started = time.perf_counter()
    try:
        detail = await client.get(f"{path}/{fingerprint}", params=last(7), headers=headers)
    except httpx.HTTPError as error:
        recorder.error(f"GET query detail: {type(error).__name__}: {error}")
        return
    recorder.detail_ms.append((time.perf_counter() - started) * 1000)
    if detail.status_code != 200 or not detail.json().get("series"):
        recorder.error(f"GET query detail: {detail.status_code} {detail.text[:300]}")


async def until_readable(client: httpx.AsyncClient, access_token: str, database_ids: list[str]) -> None:
    """Waits for the workers to store the warm-up snapshots (accepted is not yet stored), so that
    the readers find 50 statements in every database from their first call."""
    deadline = time.monotonic() + STORE_TIMEOUT_S
    for database_id in database_ids:
        path = f"/api/v1/databases/{database_id}/queries"
        while time.monotonic() < deadline:
            response = await client.get(path, params={"limit": 50}, headers=bearer(access_token))
            if response.status_code == 200 and len(response.json()) == 50:
                break
            await asyncio.sleep(0.1)


@dataclass(frozen=True)
class MonitoredDatabase:
    id: str
    agent_token: str


def set_up_databases(base_url: str) -> tuple[str, list[MonitoredDatabase]]:
    """Signs the admin in and registers one monitored database per agent; returns the access token."""
    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_S, trust_env=False) as client:
        login = client.post("/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        assert login.status_code == 200, login.text
        access_token = str(login.json()["access_token"])
        databases = []
        for number in range(AGENTS):
            created = client.post(
                "/api/v1/databases", json={"name": f"shop-{number}"}, headers=bearer(access_token)
            )
            assert created.status_code == 201, created.text
            databases.append(MonitoredDatabase(str(created.json()["id"]), str(created.json()["agent_token"])))
    return access_token, databases


@dataclass
class Results:
    first: Recorder = field(default_factory=Recorder)  # one untimed warm-up snapshot per database
    sequential: Recorder = field(default_factory=Recorder)
    concurrent: Recorder = field(default_factory=Recorder)
    concurrent_seconds: float = 0.0


async def measure(base_url: str, access_token: str, databases: list[MonitoredDatabase]) -> Results:
    results = Results()
    now = datetime.now(UTC)
    counts = [1 + SNAPSHOTS_PER_AGENT + (SEQUENTIAL_SNAPSHOTS if n == 0 else 0) for n in range(AGENTS)]
    say(f"building {sum(counts)} snapshots of {STATEMENTS} statements...")
    built = time.perf_counter()
    bodies: list[list[bytes]] = []
    for number, count in enumerate(counts):
        workload, rng = build_workload(seed=number), random.Random(1_000 + number)
        bodies.append([snapshot_body(workload, rng, at) for at in interval_ends(count, now)])
    sizes = [len(body) for body in bodies[0]]
    say(
        f"built in {time.perf_counter() - built:.1f}s; gzipped body ~{sum(sizes) / len(sizes) / 1024:.0f} KiB"
    )

    limits = httpx.Limits(
        max_connections=AGENTS + READERS + 4, max_keepalive_connections=AGENTS + READERS + 4
    )
    async with httpx.AsyncClient(
        base_url=base_url, timeout=REQUEST_TIMEOUT_S, limits=limits, trust_env=False
    ) as client:
        say("warm-up: one snapshot per database")
        readable = [  # the databases that have data, for the readers
            database.id
            for database, queue in zip(databases, bodies, strict=True)
            if await post_snapshot(client, database.agent_token, queue.pop(0), results.first)
        ]

        await until_readable(client, access_token, readable)

        say(f"sequential: {SEQUENTIAL_SNAPSHOTS} snapshots from one agent")
        for body in bodies[0][:SEQUENTIAL_SNAPSHOTS]:
            await post_snapshot(client, databases[0].agent_token, body, results.sequential)
        del bodies[0][:SEQUENTIAL_SNAPSHOTS]

        say(f"concurrent: {AGENTS} agents x {SNAPSHOTS_PER_AGENT} snapshots, {READERS} readers")
        recorder = results.concurrent
        ingesting = asyncio.Event()
        ingesting.set()

        async def agent(database: MonitoredDatabase, queue: list[bytes]) -> None:
            for body in queue:
                await post_snapshot(client, database.agent_token, body, recorder)

        async def reader(number: int) -> None:
            rng = random.Random(number)
            headers = bearer(access_token)
            for _ in range(MAX_READS_PER_READER):
                if not ingesting.is_set() or not readable:
                    return
                await read_once(client, headers, rng.choice(readable), rng, recorder)
                if READER_PAUSE_S:
                    await asyncio.sleep(READER_PAUSE_S)

        readers = [asyncio.create_task(reader(n)) for n in range(READERS)]
        started = time.perf_counter()
        try:
            await asyncio.wait_for(
                asyncio.gather(*(agent(d, q) for d, q in zip(databases, bodies, strict=True))),
                timeout=CONCURRENT_PHASE_TIMEOUT_S,
            )
        except TimeoutError:
            recorder.error(f"concurrent ingestion took longer than {CONCURRENT_PHASE_TIMEOUT_S}s")
        finally:
            results.concurrent_seconds = time.perf_counter() - started
            ingesting.clear()
            await asyncio.wait_for(asyncio.gather(*readers), timeout=REQUEST_TIMEOUT_S * 2)
    return results


def stored_rows(metadata_url: str, accepted: int) -> tuple[int, int]:
    """(snapshots, statement rows) once the server's workers have stored what it accepted."""
    deadline = time.monotonic() + STORE_TIMEOUT_S
    with psycopg.connect(metadata_url, autocommit=True) as conn:
        while True:
            snapshots = conn.execute("SELECT count(*) FROM snapshots").fetchone()
            assert snapshots is not None
            if snapshots[0] >= accepted or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        stats = conn.execute("SELECT count(*) FROM statement_stats").fetchone()
    assert stats is not None
    return int(snapshots[0]), int(stats[0])


@contextmanager
def bench_metadata() -> Iterator[tuple[str, Path, dict[str, Any]]]:
    """A throwaway metadata database, migrated, with the bench tenant and its admin: its URL, a
    scratch folder and the tenant as `optischema-admin create-tenant` printed it."""
    with running_cluster(METADATA_SETTINGS) as cluster, tempfile.TemporaryDirectory() as scratch:
        metadata_url = cluster.create_database("optischema_metadata")
        run_admin(metadata_url, "migrate")
        tenant = json.loads(
            run_admin(
                metadata_url,
                "create-tenant",
                "--name",
                "bench",
                "--admin-email",
                ADMIN_EMAIL,
                "--admin-password",
                ADMIN_PASSWORD,
            )
        )
        yield metadata_url, Path(scratch), tenant


def main() -> list[dict[str, object]]:
    # The figures are only as good as the machine is quiet: say how busy it was.
    say("load average at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    with bench_metadata() as (metadata_url, scratch, tenant):
        say(f"tenant {tenant['tenant_id']} created; starting the control plane")
        with control_plane_server(metadata_url, scratch / "control-plane.log", SERVER_ENV) as server:
            access_token, databases = set_up_databases(server.base_url)
            results = asyncio.run(measure(server.base_url, access_token, databases))
            accepted = results.first.stored + results.sequential.stored + results.concurrent.stored
            snapshots, stats = stored_rows(metadata_url, accepted)

    sent = AGENTS + SEQUENTIAL_SNAPSHOTS + AGENTS * SNAPSHOTS_PER_AGENT
    stored = results.first.stored + results.sequential.stored + results.concurrent.stored
    errors = results.first.errors + results.sequential.errors + results.concurrent.errors
    if (snapshots, stats) != (stored, stored * STATEMENTS):
        errors.append(f"the metadata database holds {snapshots} snapshots and {stats} statement rows")
        say(f"error: {errors[-1]}; {stored} snapshots were acknowledged")
    say("load average at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    concurrent = results.concurrent
    reads = concurrent.top_ms + concurrent.detail_ms
    seconds = results.concurrent_seconds
    return [
        {"name": "control_plane_ingest_p50_ms", "value": rounded(percentile(results.sequential.ingest_ms, 0.5)), "unit": "ms", "budget": 500},
        {"name": "control_plane_ingest_p99_ms", "value": rounded(percentile(results.sequential.ingest_ms, 0.99)), "unit": "ms", "budget": None},
        {"name": "control_plane_ingest_first_ms", "value": rounded(percentile(results.first.ingest_ms, 0.5)), "unit": "ms", "budget": None},
        {"name": "control_plane_ingest_concurrent_p50_ms", "value": rounded(percentile(concurrent.ingest_ms, 0.5)), "unit": "ms", "budget": None},
        {"name": "control_plane_ingest_concurrent_p99_ms", "value": rounded(percentile(concurrent.ingest_ms, 0.99)), "unit": "ms", "budget": None},
        {"name": "control_plane_snapshots_per_second", "value": round(concurrent.stored / seconds, 2) if seconds else None, "unit": "snapshots/s", "budget": None},
        {"name": "control_plane_read_p50_ms", "value": rounded(percentile(reads, 0.5)), "unit": "ms", "budget": None},
        {"name": "control_plane_read_p99_ms", "value": rounded(percentile(reads, 0.99)), "unit": "ms", "budget": 100},
        {"name": "control_plane_read_top_queries_p99_ms", "value": rounded(percentile(concurrent.top_ms, 0.99)), "unit": "ms", "budget": None},
        {"name": "control_plane_read_query_detail_p99_ms", "value": rounded(percentile(concurrent.detail_ms, 0.99)), "unit": "ms", "budget": None},
        {"name": "control_plane_reads", "value": len(reads), "unit": "requests", "budget": None},
        {"name": "control_plane_snapshots_stored", "value": stored, "unit": "snapshots", "budget": None},
        {"name": "control_plane_snapshots_sent", "value": sent, "unit": "snapshots", "budget": None},
        {"name": "control_plane_statements_per_snapshot", "value": STATEMENTS, "unit": "statements", "budget": None},
        {"name": "control_plane_errors", "value": len(errors), "unit": "errors", "budget": 0},
    ]  # fmt: skip


if __name__ == "__main__":
    figures = main()
    print(json.dumps({"benchmarks": figures}, indent=2))
    errors = next(f["value"] for f in figures if f["name"] == "control_plane_errors")
    sys.exit(1 if errors else 0)
