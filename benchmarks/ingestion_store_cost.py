"""What one 5,000-statement snapshot costs the control plane, measured alone: the CPU of accepting it
(the API process and its snapshot-checking process) and of storing it (a worker, in this process,
and its PostgreSQL backend).

`ingestion_workers` measures the rate with agents, workers and readers all sharing the machine; its
figures move by a fifth from run to run with whatever else the machine does, too much to tell a
change of 10 % from noise. Here nothing runs beside the step measured: the same snapshots are
accepted one at a time by the real server, then stored by `store_inbox` (the code of
`OPTISCHEMA_WORKERS=only`), so each figure is a cost, repeatable to a few percent.

Why these figures matter (issue 15): on the 2-core reference machine the goal is 15 snapshots/s
stored while readers get answers within 100 ms. Readers that need half the machine leave about
1,000 ms of CPU a second for ingestion, so accepting and storing a snapshot together must cost
under ~65 ms (1,000 / 15). The figures carry no budget of their own: the goal is the rate, judged
in `ingestion_workers`; these say how far the cost is from allowing it.

Stored in batches of 1 (one agent's snapshot every 30 s: what a worker sees in steady state), of 4
(a backlog: an agent's spool resent after an outage, whose snapshots of one hour are summed before
their rollups are written) and of the worker's largest, 8 (a busy inbox, as in the rate
`ingestion_workers` judges). Some costs grow with the batch's size, not only shrink: making the
COPY data of a batch of 8 once took 19 ms a snapshot against 8.6 alone, its 40,000 rows read in a
way that missed the CPU's caches (fixed on 2026-12-06, batch_rows); batches of 1 and 4 did not show it.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import secrets
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil

from benchmarks.control_plane_ingestion import (
    REQUEST_TIMEOUT_S,
    STATEMENTS,
    MonitoredDatabase,
    bearer,
    bench_metadata,
)
from benchmarks.ingestion_workers import AGENTS, build_bodies, sending_agents, set_up
from benchmarks.process_cpu import CpuMeter
from control_plane.db.engine import create_engine
from control_plane.ingestion.inbox_worker import BATCH_SIZE, store_inbox
from control_plane.runtime_tuning import tune_runtime
from control_plane.settings import Settings
from deploy.local.control_plane_process import control_plane_server

BATCH_SIZES = (1, 4, BATCH_SIZE)
ROUNDS = 3  # per batch size, after one round to warm up (the first day's partitions, the catalog)


def say(message: str) -> None:
    print(f"ingestion_store_cost: {message}", file=sys.stderr, flush=True)


def accept_all(base_url: str, databases: list[MonitoredDatabase], bodies: list[list[bytes]]) -> int:
    """Posts every body, one request at a time; returns how many were accepted."""
    accepted = 0
    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_S, trust_env=False) as client:
        for database, queue in zip(databases, bodies, strict=True):
            headers = {
                **bearer(database.agent_token),
                "Content-Type": "application/json",
                "Content-Encoding": "gzip",
            }
            for body in queue:
                response = client.post("/api/v1/agent/snapshots", content=body, headers=headers)
                if response.status_code != 202:
                    raise RuntimeError(f"POST /agent/snapshots: {response.status_code} {response.text[:300]}")
                accepted += 1
    return accepted


@contextmanager
def workers_runtime() -> Iterator[None]:
    """The collector and GIL settings of a workers process (at Python's defaults a full collection
    every ~8 snapshots added ~5 ms a snapshot that `OPTISCHEMA_WORKERS=only` does not pay), and
    afterwards this process's own again, for the benchmarks `make bench` runs after this one."""
    thresholds, switch_interval = gc.get_threshold(), sys.getswitchinterval()
    tune_runtime()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        sys.setswitchinterval(switch_interval)


async def store_all(metadata_url: str) -> tuple[int, float, float]:
    """Stores the inbox as a worker does; returns (snapshots, worker CPU s, its backends' CPU s)."""
    os.environ["OPTISCHEMA_METADATA_URL"] = metadata_url
    os.environ.setdefault("OPTISCHEMA_SECRET_KEY", secrets.token_urlsafe(48))
    settings = Settings()
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:  # the pool's connection, and so its backend, up front
            await connection.exec_driver_sql("SELECT 1")
        backends = CpuMeter(metadata_url, [psutil.Process()], clients=False)
        backends.start()
        with workers_runtime():
            worker_before = time.process_time()
            stored = await store_inbox(engine, settings)
            worker = time.process_time() - worker_before
        backend = backends.seconds()
    finally:
        await engine.dispose()
    return stored, worker, backend


def measure(metadata_url: str, scratch: Path) -> dict[int, dict[str, float]]:
    start = datetime.now(UTC).replace(minute=0, second=1, microsecond=0)
    results: dict[int, dict[str, float]] = {}
    with control_plane_server(metadata_url, scratch / "control-plane.log") as server:
        _, databases = set_up(server.base_url)
        api = psutil.Process(server.pid)
        run = 0
        agents = sending_agents()  # their first snapshots, the first round's, carry every text
        for size in BATCH_SIZES:
            sums = {"accept": 0.0, "worker": 0.0, "postgres": 0.0, "snapshots": 0.0}
            for round_number in range(ROUNDS + 1):
                bodies = build_bodies(run, start, size, agents)
                run += 1
                # The API's own backends too: the inbox insert and the token lookup are accepting;
                # so is its snapshot-checking process (a child, started by the first snapshot).
                accepting = CpuMeter(metadata_url, [api, *api.children(recursive=True)])
                accepting.start()
                accepted = accept_all(server.base_url, databases, bodies)
                accept_s = accepting.seconds()
                stored, worker_s, postgres_s = asyncio.run(store_all(metadata_url))
                if stored != accepted:
                    raise RuntimeError(f"{accepted} accepted but {stored} stored")
                if round_number == 0:
                    continue  # warming up
                sums["accept"] += accept_s
                sums["worker"] += worker_s
                sums["postgres"] += postgres_s
                sums["snapshots"] += stored
            results[size] = {k: v * 1000 / sums["snapshots"] for k, v in sums.items() if k != "snapshots"}
            say(
                f"batches of {size}: accept {results[size]['accept']:.1f} ms, store {results[size]['worker']:.1f} ms "
                f"(worker) + {results[size]['postgres']:.1f} ms (PostgreSQL) of CPU per snapshot"
            )
    return results


def main() -> list[dict[str, object]]:
    with bench_metadata() as (metadata_url, scratch, _):
        results = measure(metadata_url, scratch)
    figures: list[dict[str, object]] = [
        {
            "name": "store_cost_statements_per_snapshot",
            "value": STATEMENTS,
            "unit": "statements",
            "budget": None,
        },
        {"name": "store_cost_agents", "value": AGENTS, "unit": "agents", "budget": None},
    ]
    for size, cost in results.items():
        prefix = f"store_cost_batch_{size}"
        figures += [
            {"name": f"{prefix}_accept_cpu_ms_per_snapshot", "value": round(cost["accept"], 1), "unit": "ms", "budget": None},
            {"name": f"{prefix}_worker_cpu_ms_per_snapshot", "value": round(cost["worker"], 1), "unit": "ms", "budget": None},
            {"name": f"{prefix}_postgres_cpu_ms_per_snapshot", "value": round(cost["postgres"], 1), "unit": "ms", "budget": None},
            {"name": f"{prefix}_total_cpu_ms_per_snapshot", "value": round(sum(cost.values()), 1), "unit": "ms", "budget": None},
        ]  # fmt: skip
    return figures


if __name__ == "__main__":
    print(json.dumps({"benchmarks": main()}, indent=2))
