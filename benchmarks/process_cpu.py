"""CPU time of processes while a benchmark runs: of chosen processes and their PostgreSQL backends
(CpuMeter), or of the whole machine, split by what each process is (MachineCpu).

Why the split (issue 15): the goal's 15 snapshots a second on 2 cores is 133 ms of CPU a stored
snapshot for everything on the machine, readers included, and only the whole machine, every
process counted, says what that asks of each part. It also shows costs that a step measured alone
does not: a body's check took 21 ms in a checking process by itself and 25-27 ms beside the rest.
In 2026-12-06's two runs with 2 workers and nobody reading, the machine spent 188 and 218 ms a
snapshot: the workers' PostgreSQL backends 86 and 122, the workers 38 and 43, the checking
processes 25 and 27, the API 9 and 10, its backends 3.5, the benchmark's own agents 8 (13 while
this sampler still looked up every connection's owner at every sample).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from types import TracebackType

import psutil
import psycopg

# How often MachineCpu reads every process. A process that ends between two readings loses what it
# used since the last one (a short autovacuum worker's few ms): the split is a lower bound by at most
# that, which `busy_seconds` (the kernel's own count for the machine) shows beside it.
SAMPLE_INTERVAL_S = 0.25

# Kinds of process, as named in figures: the API process; its children, the snapshot-checking
# processes; the workers; the PostgreSQL backends of each; the rest of the metadata server
# (autovacuum, WAL writer, checkpointer); this benchmark process (agents, readers) and its backends;
# anything else on the machine.
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


Connection = psycopg.Connection[tuple[int, int]]


def _client_ports(conn: Connection) -> dict[int, int]:
    """Backend pid -> its client's port, for every backend with a TCP client."""
    rows = conn.execute("SELECT pid, client_port FROM pg_stat_activity WHERE client_port > 0").fetchall()
    return {pid: port for pid, port in rows}


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
        ports = {
            connection.laddr.port
            for process in self._processes
            for connection in process.net_connections(kind="tcp")
            if connection.raddr
        }
        with psycopg.connect(self._metadata_url, autocommit=True) as conn:
            backends = _client_ports(conn)
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
    """Every process's CPU from entering to leaving, by kind (KINDS); a backend is its client's
    kind, told by its client's port."""

    def __init__(
        self,
        metadata_url: str,
        api: int,
        workers: list[int],
        interval_s: float = SAMPLE_INTERVAL_S,
    ) -> None:
        self._roles = {api: API, **dict.fromkeys(workers, WORKERS), psutil.Process().pid: BENCHMARK}
        self._interval_s = interval_s
        # One connection for every sample: one each time was a backend started 4 times a second.
        self._conn: Connection = psycopg.connect(metadata_url, autocommit=True)
        self._postmaster = psutil.Process(self._conn.info.backend_pid).ppid()
        self._first: dict[tuple[int, float], float] = {}
        self._last: dict[tuple[int, float], float] = {}
        self._kind: dict[tuple[int, float], str] = {}
        self._backends: dict[int, str] = {}
        self._busy_at_start = 0.0
        self._busy = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="machine-cpu", daemon=True)

    def __enter__(self) -> MachineCpu:
        self._busy_at_start = _busy()
        self._sample(started=False)
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
        self._sample(started=True)
        self._busy = _busy() - self._busy_at_start
        self._conn.close()

    def busy_seconds(self) -> float:
        """The machine's busy CPU time (all cores, every process, the kernel's count)."""
        return self._busy

    def by_kind(self) -> dict[str, float]:
        """CPU seconds by kind, every kind present (0 for none)."""
        seconds: dict[str, float] = defaultdict(float)
        for key, kind in self._kind.items():
            seconds[kind] += self._last[key] - self._first[key]
        return {kind: seconds[kind] for kind in KINDS}

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._sample(started=True)

    def _backend_kinds(self) -> dict[int, str]:
        """Backend pid -> the kind of the process at the other end of its connection. The owners of
        the clients' ports are looked up only when a backend is new: reading them (every open file
        of the processes asked) is the sampler's largest cost, ~6 ms of CPU a snapshot when it ran
        at every sample."""
        ports = _client_ports(self._conn)
        if any(pid not in self._backends for pid in ports):
            owners: dict[int, str] = {}
            for pid, role in self._roles.items():
                try:
                    for connection in psutil.Process(pid).net_connections(kind="tcp"):
                        if connection.raddr:
                            owners[connection.laddr.port] = role
                except psutil.Error:
                    continue
            kinds = {API: API_POSTGRES, WORKERS: WORKERS_POSTGRES, BENCHMARK: BENCHMARK}
            for pid, port in ports.items():
                self._backends.setdefault(pid, kinds.get(owners.get(port, OTHER), POSTGRES_BACKGROUND))
        return self._backends

    def _classify(self, process: psutil.Process, backends: dict[int, str]) -> str:
        pid, parent = process.pid, process.ppid()
        if pid in self._roles:
            return self._roles[pid]
        if self._roles.get(parent) == API:
            return CHECKING
        if pid == self._postmaster or parent == self._postmaster:
            return backends.get(pid, POSTGRES_BACKGROUND)
        return OTHER

    def _sample(self, started: bool) -> None:
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
            # One there at the start counts from then; one that starts meanwhile counts whole.
            self._first.setdefault(key, cpu if not started else 0.0)
            self._last[key] = cpu


def _busy() -> float:
    times = psutil.cpu_times()
    return float(times.user + times.nice + times.system + times.irq + times.softirq + times.steal)
