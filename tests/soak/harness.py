"""The fault suite: the agent, the control plane and a monitored database under a counted workload
while each of them fails, and the accounting afterwards.

Everything is real and on loopback: two clusters of the soak's own (metadata, monitored), the
`optischema-control-plane` server, the `optischema-agent run` daemon. Each round: the control plane
is SIGKILLed and restarted; the metadata database is stopped for a while; the agent is SIGKILLed
(wherever it is, checkpoint included) and restarted; the monitored database restarts cleanly; and
pg_stat_statements is reset. Afterwards every execution must be counted exactly once by the control
plane, `/readyz` must have told the truth, the API must have answered 503 with `Retry-After` (never
a 500, never a hang) while its database was away, the agent must never have exited on its own, and
its memory must have stayed flat.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from deploy.local.control_plane_process import ControlPlaneProcess
from deploy.local.throwaway_cluster import ThrowawayCluster, start_cluster
from tests.e2e.conftest import AGENT_COMMAND, FAST_AGENT
from tests.integration.control_plane.own_metadata import own_metadata_cluster, tenant_with_database
from tests.soak.probes import LOOKUP, ApiProbe, CountedWorkload

SERVER_ENV = {
    "OPTISCHEMA_WORKERS": "on",
    "OPTISCHEMA_UNAVAILABLE_RETRY_AFTER_S": "2",
    "OPTISCHEMA_METADATA_CONNECT_TIMEOUT_S": "2",
    "OPTISCHEMA_DB_POOL_TIMEOUT_S": "2",
    "OPTISCHEMA_ACCESS_TOKEN_TTL_S": "86400",
}
# /readyz is judged only this long after a phase changed: the server notices an outage on its next
# connection attempt (its connect timeout) and a recovery on the next pool checkout.
PHASE_GRACE_S = 4.0


@dataclass(frozen=True)
class SoakPlan:
    rounds: int = 1
    warmup_s: float = 4.0
    metadata_outage_s: float = 6.0
    control_plane_down_s: float = 2.0
    between_faults_s: float = 3.0
    poll_interval_s: float = 0.3
    settle_timeout_s: float = 90.0
    max_agent_rss_growth_mb: float = 40.0


@dataclass
class SoakAccounting:
    executions: int = 0
    counted: int = 0
    workload_failures: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    readyz_lies: list[str] = field(default_factory=list)
    agent_exits_on_its_own: list[int] = field(default_factory=list)
    agent_rss_mb: list[float] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status.startswith("5") and status != "503") + (
            self.statuses.get("503-no-retry-after", 0)
        )

    @property
    def rss_growth_mb(self) -> float:
        if len(self.agent_rss_mb) < 4:
            return 0.0
        quarter = max(1, len(self.agent_rss_mb) // 4)
        return max(self.agent_rss_mb[-quarter:]) - max(self.agent_rss_mb[quarter : 2 * quarter])

    def as_dict(self) -> dict[str, Any]:
        return {
            "executions": self.executions,
            "counted_by_control_plane": self.counted,
            "counted_exactly_once": self.executions == self.counted,
            "workload_failures": self.workload_failures,
            "api_statuses": self.statuses,
            "server_errors": self.server_errors,
            "hangs": self.statuses.get("hang", 0),
            "readyz_lies": self.readyz_lies,
            "agent_exits_on_its_own": self.agent_exits_on_its_own,
            "agent_rss_growth_mb": round(self.rss_growth_mb, 1),
            "faults": self.faults,
            "seconds": round(self.seconds, 1),
        }


class Agent:
    """The daemon as a subprocess, restartable, with its log kept across restarts."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self._env = env
        self._log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.exits: list[int] = []

    def start(self) -> None:
        with self._log_path.open("ab") as log:
            self.process = subprocess.Popen([AGENT_COMMAND, "run"], env=self._env, stdout=log, stderr=log)

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            self.exits.append(self.process.returncode)
            self.start()

    def kill(self) -> None:
        self.check_alive()
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def rss_mb(self) -> float | None:
        try:
            return psutil.Process(self.process.pid).memory_info().rss / 2**20 if self.process else None
        except psutil.NoSuchProcess:
            return None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=60)


def _monitored_cluster() -> tuple[ThrowawayCluster, str]:
    cluster = start_cluster()
    url = cluster.create_database("shop", ("pg_stat_statements",))
    with cluster.connect("shop") as conn:
        conn.execute("CREATE TABLE products (id serial PRIMARY KEY, sku int NOT NULL, name text NOT NULL)")
        conn.execute("INSERT INTO products (sku, name) SELECT g, 'p' || g FROM generate_series(1, 2000) g")
        conn.execute("CREATE INDEX products_sku ON products (sku)")
        conn.execute("ANALYZE products")
        conn.execute("SELECT pg_stat_statements_reset()")
    return cluster, url


def counted_calls(client: httpx.Client, database_id: str) -> int:
    response = client.get(f"/api/v1/databases/{database_id}/queries", params={"limit": 100})
    if response.status_code != 200:
        return -1
    return sum(int(q["calls"]) for q in response.json() if q["query"] == LOOKUP)


def wait_until(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.3)
    return False


def run_soak(plan: SoakPlan, work_dir: Path) -> SoakAccounting:
    started = time.monotonic()
    accounting = SoakAccounting()
    work_dir.mkdir(parents=True, exist_ok=True)
    monitored, monitored_url = _monitored_cluster()
    try:
        with own_metadata_cluster() as metadata:
            server = ControlPlaneProcess(metadata.url, work_dir / "control-plane.log", SERVER_ENV)
            server.start()
            try:
                _soak(
                    plan,
                    work_dir,
                    accounting,
                    server,
                    metadata.cluster,
                    metadata.url,
                    monitored,
                    monitored_url,
                )
            finally:
                server.stop()
    finally:
        monitored.stop()
    accounting.seconds = time.monotonic() - started
    return accounting


def _soak(
    plan: SoakPlan,
    work_dir: Path,
    accounting: SoakAccounting,
    server: ControlPlaneProcess,
    metadata: ThrowawayCluster,
    metadata_url: str,
    monitored: ThrowawayCluster,
    monitored_url: str,
) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30, trust_env=False) as client:
        tenant = tenant_with_database(metadata_url, client, "soak")
        client.headers["Authorization"] = f"Bearer {tenant.access_token}"
        env = {name: value for name, value in os.environ.items() if not name.startswith("OPTISCHEMA_")}
        env.update(FAST_AGENT)
        env.update(
            OPTISCHEMA_DATABASE_URL=monitored_url,
            OPTISCHEMA_API_URL=server.base_url,
            OPTISCHEMA_AGENT_TOKEN=tenant.agent_token,
            OPTISCHEMA_SPOOL_DIR=str(work_dir / "spool"),
            OPTISCHEMA_POLL_INTERVAL_S=str(plan.poll_interval_s),
            OPTISCHEMA_CONNECT_TIMEOUT_S="1",
            OPTISCHEMA_ADVISE_EVERY_CYCLES="1000000",
        )
        agent = Agent(env, work_dir / "agent.log")
        workload = CountedWorkload(monitored_url)
        probe = ApiProbe(server.base_url, tenant.access_token)
        agent.start()
        workload.start()
        probe.start()

        def pause(seconds: float) -> None:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                agent.check_alive()
                rss = agent.rss_mb()
                if rss is not None:
                    accounting.agent_rss_mb.append(rss)
                time.sleep(0.25)

        def phase(name: str) -> None:
            probe.phase = name
            accounting.faults.append(name)

        def all_delivered() -> bool:
            return counted_calls(client, tenant.database_id) == workload.executions

        try:
            pause(plan.warmup_s)
            for _ in range(plan.rounds):
                phase("control plane killed")
                server.kill()
                pause(plan.control_plane_down_s)
                server.start()
                phase("up")
                pause(plan.between_faults_s)

                # Stopping takes seconds on a loaded machine, and /readyz may say either meanwhile:
                # only once the server is down is a 200 a lie.
                phase("metadata database stopping")
                metadata.executor.stop()
                phase("metadata database stopped")
                pause(plan.metadata_outage_s)
                # Starting, too, takes a moment in which /readyz may say either: the server accepts
                # connections before start() returns (a 200 then is the truth, not a lie).
                phase("metadata database starting")
                metadata.executor.start()
                phase("up")
                pause(plan.between_faults_s)

                agent.kill()  # SIGKILL wherever it is: mid-cycle, mid-checkpoint
                agent.start()
                accounting.faults.append("agent killed")
                pause(plan.between_faults_s)

                # The monitored database restarts cleanly; pg_stat_statements keeps its counters. The
                # workload pauses so that no statement is cut off between server and client.
                workload.pause()
                monitored.executor.stop()
                accounting.faults.append("monitored database restarted")
                pause(1.0)
                monitored.executor.start()
                workload.resume()
                pause(plan.between_faults_s)

                # A reset loses whatever the agent had not read yet: it is done once all is counted.
                workload.pause()
                wait_until(all_delivered, plan.settle_timeout_s)
                with monitored.connect("shop") as conn:
                    conn.execute("SELECT pg_stat_statements_reset()")
                accounting.faults.append("pg_stat_statements reset")
                workload.resume()
                pause(plan.between_faults_s)
        finally:
            workload.stop()
            wait_until(all_delivered, plan.settle_timeout_s)
            probe.stop()
            agent.check_alive()
            agent.stop()

    accounting.executions = workload.executions
    accounting.workload_failures = workload.failures
    with httpx.Client(base_url=server.base_url, timeout=30, trust_env=False) as client:
        client.headers["Authorization"] = f"Bearer {tenant.access_token}"
        accounting.counted = counted_calls(client, tenant.database_id)
    accounting.statuses = dict(probe.statuses())
    accounting.agent_exits_on_its_own = agent.exits
    accounting.readyz_lies = readyz_lies(probe)


def readyz_lies(probe: ApiProbe) -> list[str]:
    """/readyz answers that contradict the phase, outside the grace after each phase change."""
    lies: list[str] = []
    changed_at = 0.0
    last_phase = ""
    for record in probe.records:
        if record.phase != last_phase:
            changed_at, last_phase = record.at, record.phase
        if record.route != "/readyz" or record.at - changed_at < PHASE_GRACE_S:
            continue
        expected = {"up": "200", "metadata database stopped": "503"}.get(record.phase)
        if expected is not None and record.status != expected:
            lies.append(f"{record.phase}: /readyz answered {record.status}")
    return lies
