"""CPU time of processes while a benchmark runs: of chosen processes and their PostgreSQL backends
(CpuMeter), or of the whole machine, split by what each process is (MachineCpu).

Why the split (issue 15): the goal's 15 snapshots a second on 2 cores is 133 ms of CPU a stored
snapshot for everything on the machine, readers included, and only the whole machine, every
process counted, says what that asks of each part. It also shows costs that a step measured alone
does not: a body's check took 21 ms in a checking process by itself and 25-27 ms beside the rest.
On 2026-12-06, with 2 workers and nobody reading, the processes sampled spent 176 ms a stored
snapshot (the kernel counted 181 for the whole machine): the workers' PostgreSQL backends 87, the
workers 40, the checking processes 27, the API 10, its backends 3, the benchmark's own agents 7
(13 while this sampler still looked up every connection's owner at every sample).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from types import TracebackType
from typing import Any

import psutil
import psycopg

# How often MachineCpu reads every process. A process that ends between two readings loses what it
# used since the last one (a short autovacuum worker's few ms): the split is a lower bound by at most
# that, which `busy_seconds` (the kernel's own count for the machine) shows beside it.
SAMPLE_INTERVAL_S = 0.25

# Kinds of process, as named in figures: the API (the server's process and its web workers); its
# snapshot-checking processes; the workers; the PostgreSQL backends of each; the rest of the
# metadata server (autovacuum, WAL writer, checkpointer); this benchmark process (agents, readers)
# and its backends; anything else on the machine, other clients' backends included.
API = "api"
CHECKING = "checking_processes"
WORKERS = "workers"
WORKERS_POSTGRES = "workers_postgres"
API_POSTGRES = "api_postgres"
POSTGRES_BACKGROUND = "postgres_background"
BENCHMARK = "benchmark"
OTHER = "other"
KINDS = (API, CHECKING, WORKERS, WORKERS_POSTGRES, API_POSTGRES, POSTGRES_BACKGROUND, BENCHMARK, OTHER)


def cpu_seconds(process: psutil.Process) -> float:
    """The user and system CPU the process has used so far."""
    times = process.cpu_times()
    return float(times.user + times.system)


Connection = psycopg.Connection[tuple[Any, ...]]


def _client_ports(conn: Connection) -> dict[int, int]:
    """Backend pid -> its client's port, for every backend with a TCP client."""
    rows = conn.execute("SELECT pid, client_port FROM pg_stat_activity WHERE client_port > 0").fetchall()
    return {pid: port for pid, port in rows}


def _connections_to(server_port: int, processes: dict[int, str]) -> dict[int, str]:
    """Client port -> the label of the process holding it, for every connection these processes
    (pid -> label) have to `server_port`; a process that has ended holds none."""
    owners: dict[int, str] = {}
    for pid, label in processes.items():
        try:
            connections = psutil.Process(pid).net_connections(kind="tcp")
        except psutil.Error:
            continue
        for connection in connections:
            if connection.raddr and connection.raddr.port == server_port:
                owners[connection.laddr.port] = label
    return owners


class CpuMeter:
    """CPU seconds some processes and their PostgreSQL backends spend between start() and
    seconds(); with `clients=False`, their backends' alone. A backend is a process's when its
    client port is one of that process's connections; one that appears meanwhile counts whole."""

    def __init__(self, metadata_url: str, processes: list[psutil.Process], clients: bool = True) -> None:
        self._metadata_url = metadata_url
        self._processes = processes
        self._clients = clients
        self._start: dict[int, float] = {}

    def _backends(self) -> list[psutil.Process]:
        with psycopg.connect(self._metadata_url, autocommit=True) as conn:
            backends = _client_ports(conn)
            server_port = conn.info.port
        ports = _connections_to(server_port, {process.pid: "" for process in self._processes})
        return [psutil.Process(pid) for pid, port in backends.items() if port in ports]

    def _readings(self) -> dict[int, float]:
        readings = {}
        for process in [*(self._processes if self._clients else []), *self._backends()]:
            try:
                readings[process.pid] = cpu_seconds(process)
            except psutil.NoSuchProcess:
                continue
        return readings

    def start(self) -> None:
        self._start = self._readings()

    def seconds(self) -> float:
        return sum(cpu - self._start.get(pid, 0.0) for pid, cpu in self._readings().items())


class MachineCpu:
    """Every process's CPU from entering to leaving, by kind (KINDS).

    The API is the server's process and every descendant but the snapshot-checking processes
    (spawned by multiprocessing), so a server with several web workers is counted whole. A backend
    is the kind of its client, found by the client's port among the connections to this server's
    port; a parallel worker is its leader's kind; a backend whose client is none of these is
    `other`, and one with no client at all is PostgreSQL's background work."""

    def __init__(
        self,
        metadata_url: str,
        api: int,
        workers: list[int],
        interval_s: float = SAMPLE_INTERVAL_S,
    ) -> None:
        self._api = api
        self._roles = {api: API, **dict.fromkeys(workers, WORKERS), psutil.Process().pid: BENCHMARK}
        self._interval_s = interval_s
        # One connection for every sample: one each time was a backend started 4 times a second.
        self._conn: Connection = psycopg.connect(metadata_url, autocommit=True)
        self._port = self._conn.info.port
        self._postmaster = psutil.Process(self._conn.info.backend_pid).ppid()
        self._started_at = 0.0
        self._first: dict[tuple[int, float], float] = {}
        self._last: dict[tuple[int, float], float] = {}
        self._kind: dict[tuple[int, float], str] = {}
        self._backends: dict[int, str] = {}
        self._failed: BaseException | None = None
        self._busy_at_start = 0.0
        self._busy = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="machine-cpu", daemon=True)

    def __enter__(self) -> MachineCpu:
        self._started_at = time.time()
        self._busy_at_start = _busy()
        try:
            self._sample()
        except BaseException:
            self._conn.close()
            raise
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
        try:
            if self._failed is None:
                self._sample()
        finally:
            self._busy = _busy() - self._busy_at_start
            self._conn.close()
        # A sampler that failed made every figure short: never report them (the run's own error,
        # if it had one, is the one raised).
        if self._failed is not None and error is None:
            raise RuntimeError("sampling the machine's CPU failed") from self._failed

    def busy_seconds(self) -> float:
        """The machine's busy CPU time over all cores, the kernel's count (steal time left out: it
        is another guest's)."""
        return self._busy

    def by_kind(self) -> dict[str, float]:
        """CPU seconds by kind, every kind present (0 for none)."""
        seconds: dict[str, float] = defaultdict(float)
        for key, kind in self._kind.items():
            seconds[kind] += self._last[key] - self._first[key]
        return {kind: seconds[kind] for kind in KINDS}

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self._sample()
            except BaseException as error:  # kept for __exit__: a thread's error is otherwise lost
                self._failed = error
                return

    def _owners(self) -> dict[int, str]:
        """Client port -> the kind of the process holding it, for every connection to this server."""
        api = {key[0]: API for key, kind in self._kind.items() if kind == API}
        return _connections_to(self._port, {**self._roles, **api})

    def _backend_kinds(self) -> dict[int, str]:
        """Backend pid -> its kind. The owners of the clients' ports are looked up only when a
        backend is new: reading them (every open file of the processes asked) is the sampler's
        largest cost, ~6 ms of CPU a snapshot when it ran at every sample."""
        rows = self._conn.execute(
            "SELECT pid, client_port, leader_pid FROM pg_stat_activity"
            " WHERE client_port > 0 OR leader_pid IS NOT NULL"
        ).fetchall()
        if any(pid not in self._backends for pid, _, _ in rows):
            owners = self._owners()
            kinds = {API: API_POSTGRES, WORKERS: WORKERS_POSTGRES, BENCHMARK: BENCHMARK}
            # A client that is none of the known processes is `other`: a backend exists only while its
            # client's connection does, so a backend not found now never will be.
            for pid, port, leader in rows:
                if leader is None:
                    self._backends.setdefault(pid, kinds.get(owners.get(port, OTHER), OTHER))
            for pid, _, leader in rows:  # a parallel worker: its leader's kind
                if leader is not None:
                    self._backends.setdefault(pid, self._backends.get(leader, OTHER))
        return self._backends

    def _classify(self, process: psutil.Process, backends: dict[int, str]) -> str:
        pid = process.pid
        if pid in self._roles:
            return self._roles[pid]
        if pid == self._postmaster or process.ppid() == self._postmaster:
            return backends.get(pid, POSTGRES_BACKGROUND)
        if any(parent.pid == self._api for parent in process.parents()):
            return CHECKING if any("multiprocessing" in part for part in process.cmdline()) else API
        return OTHER

    def _sample(self) -> None:
        backends = self._backend_kinds()
        for process in psutil.process_iter():
            try:
                key = (process.pid, process.create_time())
                cpu = cpu_seconds(process)
                kind = self._kind.get(key)
                # A backend seen before its client's connection was: classified again once it is.
                if kind is None or kind == POSTGRES_BACKGROUND:
                    self._kind[key] = self._classify(process, backends)
            except psutil.Error:
                continue
            # One there at the start counts from its first reading; one started since counts whole.
            self._first.setdefault(key, cpu if key[1] < self._started_at else 0.0)
            self._last[key] = cpu


def _busy() -> float:
    times = psutil.cpu_times()
    return float(times.user + times.nice + times.system + times.irq + times.softirq)


# The round trips reference_round_trip_us times: ~0.5 s on a machine as slow as 2026-12-07's.
REFERENCE_ROUND_TRIPS = 2_000


def reference_round_trip_us(metadata_url: str) -> float:
    """The CPU, client and backend together, of one `SELECT 1` round trip to this server, in µs:
    what the machine charges for a system call and a switch between two processes, which storing a
    snapshot does thousands of times (a worker and its backend, the API and its checking process),
    and a check of one body in one process hardly at all. On 2026-12-07 the reference check read
    13-14 ms as on earlier days while a stored snapshot cost twice the CPU it had on 2026-12-06
    (ingestion_store_cost, even with every process on one core): a system call (getppid) took
    ~0.4 µs there, and this figure 130-180."""
    with psycopg.connect(metadata_url, autocommit=True) as conn:
        backend, client = psutil.Process(conn.info.backend_pid), psutil.Process()
        conn.execute("SELECT 1").fetchone()
        before = cpu_seconds(backend) + cpu_seconds(client)
        for _ in range(REFERENCE_ROUND_TRIPS):
            conn.execute("SELECT 1").fetchone()
        spent = cpu_seconds(backend) + cpu_seconds(client) - before
    return round(spent * 1e6 / REFERENCE_ROUND_TRIPS, 1)
