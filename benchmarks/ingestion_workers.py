"""Snapshot ingestion that scales with workers: 1, 2 and 4 `OPTISCHEMA_WORKERS=only` processes.

The real server (`optischema-control-plane`, workers off) accepts 5,000-statement snapshots from
eight agents into its inbox and answers 202; the worker processes, started beside it exactly as an
operator would (with every default, the inbox's 0.25 s poll included), store them. For each worker
count the agents send fresh snapshots while readers call top queries and one query's detail back to
back; the figures are the snapshots stored per second (first request to an empty inbox), the
accepted latency, and the reads' latency meanwhile.

Goal (issue 15) on the 2-core reference machine: at least 15 snapshots/s stored, accepted p50
under 100 ms, reads p99 under 100 ms while ingesting; the figures carry these as their budgets
(`at_least` for the rate). Every run also says what everything it runs spent per stored snapshot
(`machine_cpu_ms_per_snapshot`: every process of the control plane, PostgreSQL and the benchmark,
over both cores; other processes of the machine left out), and the capacity phase splits it by
kind of process (benchmarks/process_cpu.py: API, checking processes, workers, each one's
PostgreSQL backends, PostgreSQL's background work, the benchmark itself, and `other` beside): on
2 cores the rate is at most 2,000 / that figure, so the goal's 15 a second needs it under 133 ms
with nobody reading, and less again beside readers. The load average is printed and reported: others'
work on the machine shows in every figure.

The runs follow one another on one metadata server, and a server costs more the longer it has
been ingesting (docs/operations.md, "Sizing ingestion": 74-85 ms a snapshot on the first run of
2 workers, 97-107 on the third and fourth, 2026-12-06): each worker count is measured on an older
server than the one before it, which weighs against the higher counts.

What a snapshot holds: 5,000 statements, every one of which ran during its 30 s interval. That is
what an agent sends for a database where 5,000 statements ran: it leaves out every statement whose
calls did not grow (agent/diff/statement_deltas.py), so the fraction of a snapshot's statements
that changed is 100% by construction, and each one needs its raw row and its rollup updates. A
database with 5,000 statements of which fewer ran sends smaller snapshots, and costs less.

Each snapshot carries a statement's text only where the agent sends it (agent/ship/statement_texts.py,
through the agent's own code, on the clock of the snapshots' times): an agent sends a text again an
hour after the control plane acknowledged it and leaves it out meanwhile. The agents' first
snapshots, the warm-up's, carry all 5,000 texts; the measured runs' intervals lie within the hour
after them, and carry none: 230 kB gzipped where a snapshot with every text is 348 kB (what each
snapshot carried until 2026-12-07, as the reference check's still does).

Each worker count's processes are started once, store WARM_UP_PER_AGENT snapshots per agent
unmeasured, and then serve the three phases, as workers in service do (until 2026-12-06 each phase
started its own, and measured what a fresh process and its fresh backends cost on top).

Three phases for each worker count:
- **capacity**: the backlog below with nobody reading, the rate the workers store at when the API
  is idle. Not the goal's figure (that is with readers), but what sizing a host needs: the rate a
  worker count reaches on this machine, beside which the backlog's shows what readers take.
- **backlog** (the rate): each agent sends its 12 snapshots back to back, as an agent does when it
  resends its spool, and the workers store a database's waiting snapshots in one batch
  (control_plane.ingestion.inbox_worker): the rate here is what the workers can store, that of a
  busy inbox. Its accepted latency is no agent's experience: eight senders that never pause keep
  eight requests in flight, so each waits for the seven others (Little's law: the p50 is about
  8 / the rate the server accepts at, ~270 ms with no readers at all). It is printed, not judged.
- **paced** (the latencies): the agents send at the goal's rate together, 15 snapshots/s, each on
  its own schedule staggered from the others', as a thousand agents on a 30 s interval arrive
  (33/s, spread over the interval). The accepted and read latencies here are the goal's; so is the
  rate the workers store them at, which keeps up only if the workers can store 15 a second.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import httpx
import psutil
import psycopg

from agent.config import RunSettings
from agent.ship.statement_texts import SentTexts
from benchmarks.control_plane_ingestion import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    REQUEST_TIMEOUT_S,
    STATEMENTS,
    MonitoredDatabase,
    Recorder,
    bearer,
    bench_metadata,
    build_workload,
    percentile,
    read_once,
    rounded,
    snapshot_body,
    workload_snapshot,
)
from benchmarks.process_cpu import (
    KINDS,
    OTHER,
    WORKERS,
    WORKERS_POSTGRES,
    MachineCpu,
    cpu_seconds,
    reference_round_trip_us,
)
from control_plane.ingestion.payload import decode_snapshot
from control_plane.settings import Settings
from deploy.local.control_plane_process import (
    SCRIPTS,
    control_plane_environment,
    control_plane_server,
)
from shared.wire.snapshot import Snapshot, gzipped_json

WORKER_COUNTS = (1, 2, 4)
AGENTS = 8
# 12 per agent: long enough for the rate a busy inbox is stored at, short enough for `make bench`.
# A run's first ~0.3 s is the pipeline filling (a worker's next poll, its first batch), not storing
# at its rate: that was ~15% of the 2-3 s that 4 per agent took, and the rate read ~15% low.
SNAPSHOTS_PER_RUN = 96
PACED_SNAPSHOTS = 64  # 8 per agent, ~4.3 s at the goal's rate
# Each worker count's processes serve its three phases, as workers in service run for days, after
# storing this many snapshots per agent unmeasured: a worker's first batches pay for what a
# long-running one has done once (its PostgreSQL backends' memory and caches, each database's first
# analysis check, the pool's connections). Started afresh for every phase, as until 2026-12-06,
# a run of 96 snapshots with 2 workers had ~18 new backends fault in ~130,000 pages of memory.
WARM_UP_PER_AGENT = 3
READERS = 2
# A worker starting up (imports, engine, the first turn of every background job) takes ~2 s of CPU:
# four at once kept both cores busy for 4 s, the time the runs used to wait, and so the last second
# of it fell in the measured run. The run now starts once the workers' CPU has settled: under
# WORKER_SETTLED_CPU of a core each over WORKER_SETTLE_WINDOW_S, or after WORKER_START_TIMEOUT_S.
WORKER_SETTLE_WINDOW_S = 0.5
WORKER_SETTLED_CPU = 0.1
WORKER_START_TIMEOUT_S = 60.0
RUN_TIMEOUT_S = 300.0
GOAL_SNAPSHOTS_PER_S = 15
# Each run's intervals follow the previous run's by this many snapshots per agent: 10 runs of up to
# 12 intervals of 30 s, the 60 minutes from the start of the hour.
MAX_PER_AGENT = max(SNAPSHOTS_PER_RUN, PACED_SNAPSHOTS) // AGENTS
GOAL_ACCEPTED_P50_MS = 100
GOAL_READ_P99_MS = 100
# The machine's speed, printed beside the figures: the median CPU time of checking one snapshot's
# body as the API does (payload.decode_snapshot), in this process, before anything else runs. Two
# runs' rates and latencies compare only as their machines do; this says how fast the Python of
# each was (it does not show a machine whose two cores slow each other down when both are busy,
# nor one whose system calls are slow: the reference round trip, process_cpu, says that).
REFERENCE_CHECKS = 15
MAX_BODY_BYTES: int = Settings.model_fields["max_body_bytes"].default


def say(message: str) -> None:
    print(f"ingestion_workers: {message}", file=sys.stderr, flush=True)


@contextmanager
def workers_only(metadata_url: str, count: int, log_dir: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    env = {
        **control_plane_environment(metadata_url),
        "OPTISCHEMA_WORKERS": "only",
        "OPTISCHEMA_SECRET_KEY": secrets.token_urlsafe(48),
    }
    processes = []
    for number in range(count):
        with (log_dir / f"workers-{count}-{number}.log").open("wb") as log:
            command = [str(SCRIPTS / "optischema-control-plane")]
            processes.append(subprocess.Popen(command, env=env, stdout=log, stderr=log))
    try:
        settle([psutil.Process(process.pid) for process in processes])
        yield processes
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def settle(processes: list[psutil.Process]) -> None:
    """Waits until these processes have started up: their CPU use has fallen (see WORKER_SETTLED_CPU)."""

    def cpu() -> float:
        return sum(map(cpu_seconds, processes))

    deadline = time.monotonic() + WORKER_START_TIMEOUT_S
    before = cpu()
    while time.monotonic() < deadline:
        time.sleep(WORKER_SETTLE_WINDOW_S)
        now = cpu()
        if now - before < WORKER_SETTLED_CPU * WORKER_SETTLE_WINDOW_S * len(processes):
            return
        before = now
    raise RuntimeError(f"the workers were still busy starting after {WORKER_START_TIMEOUT_S}s")


Counting = psycopg.Connection[tuple[int]]


def counting_connection(metadata_url: str) -> Counting:
    return psycopg.connect(metadata_url, autocommit=True)


def stored_snapshots(conn: Counting) -> int:
    row = conn.execute("SELECT count(*) FROM snapshots").fetchone()
    return row[0] if row else 0


Phase = Literal["capacity", "backlog", "paced"]
PHASES: tuple[Phase, ...] = ("capacity", "backlog", "paced")


@dataclass
class Run:
    workers: int
    phase: Phase = "backlog"
    recorder: Recorder = field(default_factory=Recorder)
    seconds: float = 0.0
    stored: int = 0
    # CPU seconds by kind of process (benchmarks/process_cpu.KINDS).
    cpu: dict[str, float] = field(default_factory=dict)


async def ingest(
    base_url: str,
    metadata_url: str,
    access_token: str,
    databases: list[MonitoredDatabase],
    bodies: list[list[bytes]],
    run: Run,
    readers: int = READERS,
    rate: float | None = None,
    now: datetime | None = None,
) -> None:
    """Sends every agent's bodies while `readers` read, until all are stored: back to back, or at
    `rate` snapshots/s all agents together (agent n's i-th at (i * AGENTS + n) / rate seconds)."""
    # One connection for the count, asked every 50 ms until all is stored: a connection each time
    # was a PostgreSQL backend started 20 times a second (a few ms of CPU each) on the machine
    # measured.
    with closing(await asyncio.to_thread(counting_connection, metadata_url)) as counting:
        recorder = run.recorder
        before = await asyncio.to_thread(stored_snapshots, counting)
        expected = before + sum(len(queue) for queue in bodies)
        limits = httpx.Limits(
            max_connections=AGENTS + READERS + 2, max_keepalive_connections=AGENTS + READERS + 2
        )
        async with httpx.AsyncClient(
            base_url=base_url, timeout=REQUEST_TIMEOUT_S, limits=limits, trust_env=False
        ) as client:
            ingesting = asyncio.Event()
            ingesting.set()

            async def agent(number: int, database: MonitoredDatabase, queue: list[bytes]) -> None:
                headers = {
                    **bearer(database.agent_token),
                    "Content-Type": "application/json",
                    "Content-Encoding": "gzip",
                }
                for index, body in enumerate(queue):
                    if rate is not None:
                        due = started + (index * AGENTS + number) / rate
                        await asyncio.sleep(max(0.0, due - time.perf_counter()))
                    started_at = time.perf_counter()
                    response = await client.post("/api/v1/agent/snapshots", content=body, headers=headers)
                    if response.status_code != 202:
                        recorder.error(f"POST /agent/snapshots: {response.status_code} {response.text[:300]}")
                        continue
                    recorder.ingest_ms.append((time.perf_counter() - started_at) * 1000)

            async def reader(number: int) -> None:
                rng, headers = random.Random(number), bearer(access_token)
                while ingesting.is_set():
                    await read_once(client, headers, rng.choice(databases).id, rng, recorder, now)

            async def until_stored() -> None:
                while await asyncio.to_thread(stored_snapshots, counting) < expected:
                    await asyncio.sleep(0.05)

            reading = [asyncio.create_task(reader(n)) for n in range(readers)]
            started = time.perf_counter()
            try:
                await asyncio.gather(
                    *(agent(n, d, q) for n, (d, q) in enumerate(zip(databases, bodies, strict=True)))
                )
                await asyncio.wait_for(until_stored(), timeout=RUN_TIMEOUT_S)
            except TimeoutError:
                recorder.error(f"the inbox was not stored within {RUN_TIMEOUT_S}s")
            finally:
                run.seconds = time.perf_counter() - started
                ingesting.clear()
                await asyncio.gather(*reading)
        run.stored = await asyncio.to_thread(stored_snapshots, counting) - before


class SendingAgent:
    """What one agent has sent the control plane of its statements' texts, kept as the agent keeps
    it (agent/ship/statement_texts.py) on the clock of its snapshots' times: each body here is
    acknowledged (202) before the agent's next one is sent."""

    def __init__(self) -> None:
        self._now = datetime.min.replace(tzinfo=UTC)
        self._texts = SentTexts(timedelta(seconds=RunSettings.text_resend_after_s), clock=lambda: self._now)

    def body(self, snapshot: Snapshot) -> bytes:
        self._now = snapshot.collected_at
        sent = self._texts.outgoing(snapshot)
        self._texts.acknowledged(sent)
        return gzipped_json(sent)


def sending_agents() -> list[SendingAgent]:
    return [SendingAgent() for _ in range(AGENTS)]


def build_bodies(
    run: int,
    start: datetime,
    per_agent: int = SNAPSHOTS_PER_RUN // AGENTS,
    agents: list[SendingAgent] | None = None,
) -> list[list[bytes]]:
    """Per agent, its next `per_agent` snapshots: each run's intervals follow the previous run's.
    As `agents` send them (what each sent before decides which texts are left out), or, without,
    each with every text (as to a control plane that has none)."""
    assert per_agent <= MAX_PER_AGENT
    bodies = []
    for number in range(AGENTS):
        workload, rng = build_workload(seed=number), random.Random(1_000 * run + number)
        first = start + timedelta(seconds=30 * MAX_PER_AGENT * run)
        times = [first + timedelta(seconds=30 * n) for n in range(per_agent)]
        if agents is None:
            bodies.append([snapshot_body(workload, rng, at) for at in times])
        else:
            bodies.append([agents[number].body(workload_snapshot(workload, rng, at)) for at in times])
    return bodies


def set_up(base_url: str) -> tuple[str, list[MonitoredDatabase]]:
    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_S, trust_env=False) as client:
        login = client.post("/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        assert login.status_code == 200, login.text
        token = str(login.json()["access_token"])
        databases = []
        for number in range(AGENTS):
            created = client.post("/api/v1/databases", json={"name": f"shop-{number}"}, headers=bearer(token))
            assert created.status_code == 201, created.text
            databases.append(MonitoredDatabase(str(created.json()["id"]), str(created.json()["agent_token"])))
    return token, databases


def measure(metadata_url: str, scratch: Path) -> list[Run]:
    now = datetime.now(UTC)
    # All runs' intervals (60 minutes of them) from the start of this hour: what agents send is the
    # interval that just ended, an hour the daily-rollups job folds later (once, for all of the
    # hour's snapshots), not one it has folded (a spool replayed after an outage: those add to
    # their days' rollups as well, ~26 ms more a snapshot).
    start = now.replace(minute=0, second=1, microsecond=0)
    # The readers ask what the dashboard shows by default as of the end of that hour: the last
    # day (the last week for a query's series) up to a time after every snapshot, as it is in
    # service, where an agent sends what has happened. As of the wall clock (mid-hour, before the
    # snapshots dated later in it) each read added up the hour's raw rows so far, ~50,000 at ten
    # minutes past, where the dashboard reads the hour's rollups.
    readers_now = start.replace(second=0) + timedelta(hours=1)
    runs = []
    with control_plane_server(metadata_url, scratch / "control-plane.log") as server:
        token, databases = set_up(server.base_url)
        # The first interval's snapshots warm each worker count up, WARM_UP_PER_AGENT apiece; the
        # agents' first carry every text, and the rest none (see the docstring).
        agents = sending_agents()
        warm_ups = build_bodies(0, start, WARM_UP_PER_AGENT * len(WORKER_COUNTS), agents)
        number = 0
        for index, count in enumerate(WORKER_COUNTS):
            with workers_only(metadata_url, count, scratch) as workers:
                say(f"{count} worker(s), warm-up: {WARM_UP_PER_AGENT} snapshots per agent, not measured")
                warm_up = [
                    queue[index * WARM_UP_PER_AGENT : (index + 1) * WARM_UP_PER_AGENT] for queue in warm_ups
                ]
                # No readers: until the first count's is stored, the databases are empty.
                asyncio.run(
                    ingest(server.base_url, metadata_url, token, databases, warm_up, Run(count), readers=0)
                )
                for phase in PHASES:
                    number += 1
                    per_agent = (PACED_SNAPSHOTS if phase == "paced" else SNAPSHOTS_PER_RUN) // AGENTS
                    bodies = build_bodies(number, start, per_agent, agents)
                    readers = 0 if phase == "capacity" else READERS
                    name = f"{count} worker(s), {phase}"
                    say(f"{name}: {per_agent * AGENTS} snapshots from {AGENTS} agents, {readers} readers")
                    run = Run(count, phase)
                    rate = GOAL_SNAPSHOTS_PER_S if phase == "paced" else None
                    with MachineCpu(metadata_url, server.pid, [worker.pid for worker in workers]) as cpu:
                        asyncio.run(
                            ingest(
                                server.base_url,
                                metadata_url,
                                token,
                                databases,
                                bodies,
                                run,
                                readers,
                                rate,
                                now=readers_now,
                            )
                        )
                    run.cpu = cpu.by_kind()
                    say(
                        f"{name}: {run.stored} stored in {run.seconds:.1f}s ({run.stored / run.seconds:.1f}/s);"
                        f" CPU {sum(run.cpu.values()):.1f}s over the processes sampled,"
                        f" {cpu.busy_seconds():.1f}s by the kernel's count"
                    )
                    runs.append(run)
    return runs


def figure(name: str, value: object, unit: str, budget: float | None = None) -> dict[str, object]:
    return {"name": name, "value": value, "unit": unit, "budget": budget}


# What the whole machine may spend on a stored snapshot for the goal's rate on 2 cores, readers,
# agents and the benchmark itself included: 2,000 ms of CPU a second / 15.
GOAL_MACHINE_CPU_MS = round(2000 / GOAL_SNAPSHOTS_PER_S)


def cpu_figures(run: Run, prefix: str) -> list[dict[str, object]]:
    """CPU ms per stored snapshot: storing alone (the workers and their backends), and everything
    the benchmark runs (every kind but `other`: the control plane, PostgreSQL, the agents and
    readers); split by kind of process where nobody reads (capacity), the cost of a snapshot."""

    def per_snapshot(seconds: float) -> float | None:
        return round(seconds * 1000 / run.stored, 1) if run.stored else None

    ours = sum(seconds for kind, seconds in run.cpu.items() if kind != OTHER)
    figures = [
        figure(
            f"{prefix}_store_cpu_ms_per_snapshot",
            per_snapshot(run.cpu.get(WORKERS, 0.0) + run.cpu.get(WORKERS_POSTGRES, 0.0)),
            "ms",
        ),
        # On 2 cores the rate is at most 2,000 ms a second / this, whatever the split: the capacity
        # phase's is budgeted with the ceiling the goal's rate implies (necessary, not sufficient:
        # readers want their share too). The phase itself is not the goal's.
        figure(
            f"{prefix}_machine_cpu_ms_per_snapshot",
            per_snapshot(ours),
            "ms",
            GOAL_MACHINE_CPU_MS if run.phase == "capacity" else None,
        ),
    ]
    if run.phase == "capacity":
        figures += [
            figure(f"{prefix}_cpu_ms_per_snapshot_{kind}", per_snapshot(run.cpu.get(kind, 0.0)), "ms")
            for kind in KINDS
        ]
    return figures


def run_figures(run: Run) -> list[dict[str, object]]:
    """A run's figures, with the goal's budgets where its phase judges them (see the docstring)."""
    reads = run.recorder.top_ms + run.recorder.detail_ms
    per_second = round(run.stored / run.seconds, 2) if run.seconds else None
    prefix = f"ingestion_{run.workers}_workers" + ("" if run.phase == "backlog" else f"_{run.phase}")
    common = [figure(f"{prefix}_errors", len(run.recorder.errors), "errors", 0), *cpu_figures(run, prefix)]
    if run.phase == "capacity":  # nobody reads, nobody's latency is judged: the rate alone
        return [figure(f"{prefix}_snapshots_per_second", per_second, "snapshots/s"), *common]
    paced = run.phase == "paced"
    # The rate is judged on the backlog (what the workers can store), the accepted latency on the
    # paced phase (what an agent waits at the goal's rate), the reads on both.
    rate = (
        figure(f"{prefix}_stored_per_second", per_second, "snapshots/s")
        if paced
        else figure(f"{prefix}_snapshots_per_second", per_second, "snapshots/s", GOAL_SNAPSHOTS_PER_S)
    )
    accepted = run.recorder.ingest_ms
    return [
        {**rate, "at_least": True},
        figure(
            f"{prefix}_accepted_p50_ms",
            rounded(percentile(accepted, 0.5)),
            "ms",
            GOAL_ACCEPTED_P50_MS if paced else None,
        ),
        figure(f"{prefix}_accepted_p99_ms", rounded(percentile(accepted, 0.99)), "ms"),
        figure(f"{prefix}_read_p99_ms", rounded(percentile(reads, 0.99)), "ms", GOAL_READ_P99_MS),
        # The read load the rate was measured under: READERS back to back take what CPU is free.
        figure(
            f"{prefix}_reads_per_second",
            round(len(reads) / run.seconds, 1) if run.seconds else None,
            "reads/s",
        ),
        *common,
    ]


def reference_check_ms() -> float:
    """See REFERENCE_CHECKS."""
    body = build_bodies(0, datetime.now(UTC), 1)[0][0]
    timings = []
    for _ in range(REFERENCE_CHECKS):
        started = time.process_time()
        decode_snapshot(body, "gzip", MAX_BODY_BYTES)
        timings.append((time.process_time() - started) * 1000)
    return round(statistics.median(timings), 1)


def main() -> list[dict[str, object]]:
    check_ms = reference_check_ms()
    say(f"reference check of one snapshot: {check_ms} ms of CPU")
    load_at_start = os.getloadavg()
    say("load average at start: {:.2f} {:.2f} {:.2f}".format(*load_at_start))
    with bench_metadata() as (metadata_url, scratch, _):
        round_trip_us = reference_round_trip_us(metadata_url)
        say(f"reference round trip to the metadata server: {round_trip_us} µs of CPU")
        runs = measure(metadata_url, scratch)
    load_at_end = os.getloadavg()
    say("load average at end: {:.2f} {:.2f} {:.2f}".format(*load_at_end))
    figures = [
        figure("ingestion_statements_per_snapshot", STATEMENTS, "statements"),
        # Every statement sent ran in its interval (the agent sends no other): see the docstring.
        figure("ingestion_statements_changed_fraction", 1.0, "fraction"),
        figure("ingestion_reference_check_ms", check_ms, "ms"),
        figure("ingestion_reference_round_trip_us", round_trip_us, "us"),
        figure("ingestion_load_average_1m_start", round(load_at_start[0], 2), "load"),
        figure("ingestion_load_average_1m_end", round(load_at_end[0], 2), "load"),
    ]
    for run in runs:
        figures += run_figures(run)
    return figures


if __name__ == "__main__":
    print(json.dumps({"benchmarks": main()}, indent=2))
