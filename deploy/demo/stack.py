"""Everything `make demo` runs, started in order and stopped in reverse.

Two throwaway clusters (the control plane's metadata, and the monitored shop with
pg_stat_statements and HypoPG, so the control plane's own statements never show up as the shop's
workload), the real control plane with its workers, a tenant with a demo admin, the shop registered
over the API, and the agent daemon with apply allowed so that approving in the dashboard changes the
shop. Beside the shop, its sandbox: a copy made right after loading, as a customer would restore a
backup, where the agent times each verified index on real rows before anyone approves it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

from deploy.demo.shop import create_shop, run_workload
from deploy.local.control_plane_process import (
    SCRIPTS,
    ControlPlaneProcess,
    control_plane_environment,
    run_admin,
)
from deploy.local.throwaway_cluster import MONITORED_SERVER_SETTINGS, ThrowawayCluster, start_cluster

DEMO_EMAIL = "admin@demo.optischema.test"
DEMO_TENANT = "Demo shop"
FIRST_SNAPSHOT_TIMEOUT_S = 120.0
AGENT_STOP_TIMEOUT_S = 20.0
# The metadata cluster needs no statement statistics; durability buys nothing in a throwaway demo.
METADATA_SERVER_SETTINGS: Mapping[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "100",
}
# A lively demo: a snapshot every few seconds, the advisor about once a minute.
AGENT_SETTINGS: Mapping[str, str] = {
    "OPTISCHEMA_POLL_INTERVAL_S": "5",
    "OPTISCHEMA_ADVISE_EVERY_CYCLES": "12",
    "OPTISCHEMA_ALLOW_APPLY": "true",
}
# The product's proof, in demo time: production compares an hour before an applied index with the
# hour after it; here 45 seconds each way (nine snapshots of the running workload), checked every
# 5 seconds, so the measured before/after appears about a minute after an approval.
CONTROL_PLANE_SETTINGS: Mapping[str, str] = {
    "OPTISCHEMA_ENV": "development",
    "OPTISCHEMA_WORKERS": "on",
    "OPTISCHEMA_MEASURE_WINDOW_S": "45",
    "OPTISCHEMA_MEASURE_INTERVAL_S": "5",
    "OPTISCHEMA_MEASURE_MIN_CALLS": "5",
    # A verified index is benchmarked on the sandbox within seconds of the agent's advice, not a minute.
    "OPTISCHEMA_BENCHMARK_AUTOMATIC_INTERVAL_S": "5",
}
SANDBOX_DATABASE = "shop_sandbox"


def log(message: str) -> None:
    print(f"demo: {message}", file=sys.stderr, flush=True)


@dataclass
class DemoStack:
    """The running pieces the main loop needs: where to sign in and where the workload goes."""

    dashboard_url: str
    email: str
    password: str
    shop_url: str
    database_id: str


def _stop_started_cluster(future: Future[ThrowawayCluster]) -> None:
    if future.cancelled() or future.exception() is not None:
        return
    cluster = future.result()
    log(f"stopping the cluster on port {cluster.port}")
    with contextlib.suppress(Exception):  # already gone (a Ctrl-C reaches postgres too) is fine
        cluster.stop()


def start_clusters(cleanup: contextlib.ExitStack) -> tuple[ThrowawayCluster, ThrowawayCluster]:
    """The metadata and shop clusters, started side by side; each is stopped by `cleanup` even when
    the other failed or the start was interrupted."""
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="cluster") as pool:
        metadata = pool.submit(start_cluster, METADATA_SERVER_SETTINGS, dbname="postgres")
        shop = pool.submit(start_cluster, MONITORED_SERVER_SETTINGS, dbname="postgres")
        for future in (metadata, shop):
            cleanup.callback(_stop_started_cluster, future)
        clusters = metadata.result(), shop.result()
    for role, cluster in zip(("metadata", "shop"), clusters, strict=True):
        log(f"{role} cluster: port {cluster.port}, data in {cluster.base_dir}")
    return clusters


def load_shop(cluster: ThrowawayCluster) -> tuple[str, str]:
    """The shop's URL and its sandbox's: a copy of the loaded shop (same rows, same statistics)."""
    url = cluster.create_database("shop", extensions=("pg_stat_statements", "hypopg"))
    with psycopg.connect(url, autocommit=True) as conn:
        create_shop(conn)
        # Some history before the agent's first look: its first snapshot carries it all.
        conn.execute("SELECT pg_stat_statements_reset()")
        run_workload(conn, statements=2_000)
    with cluster.connect() as admin:  # nothing else is connected to the shop yet
        admin.execute(f"CREATE DATABASE {SANDBOX_DATABASE} TEMPLATE shop")
    return url, cluster.url(SANDBOX_DATABASE)


def create_tenant(metadata_url: str, password: str) -> None:
    env = {**control_plane_environment(metadata_url), "OPTISCHEMA_ADMIN_PASSWORD": password}
    done = subprocess.run(
        [
            str(SCRIPTS / "optischema-admin"),
            "create-tenant",
            "--name",
            DEMO_TENANT,
            "--admin-email",
            DEMO_EMAIL,
        ],
        env=env,  # the password through the environment: never on a command line `ps` shows
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"optischema-admin create-tenant failed: {done.stderr.strip()}")


def register_shop(base_url: str, email: str, password: str) -> tuple[str, str]:
    """The shop's database id and agent token, through the API as the dashboard would do it."""
    with httpx.Client(base_url=f"{base_url}/api/v1", timeout=30.0, trust_env=False) as api:
        signed_in = api.post("/auth/login", json={"email": email, "password": password})
        signed_in.raise_for_status()
        api.headers["Authorization"] = f"Bearer {signed_in.json()['access_token']}"
        created = api.post("/databases", json={"name": "shop"})
        created.raise_for_status()
        body: dict[str, Any] = created.json()
    return str(body["id"]), str(body["agent_token"])


def start_agent(
    shop_url: str, sandbox_url: str, api_url: str, token: str, spool_dir: Path, log_path: Path
) -> subprocess.Popen[bytes]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("OPTISCHEMA_")}
    env.update(AGENT_SETTINGS)
    env.update(
        OPTISCHEMA_DATABASE_URL=shop_url,
        OPTISCHEMA_SANDBOX_DATABASE_URL=sandbox_url,
        OPTISCHEMA_API_URL=api_url,
        OPTISCHEMA_AGENT_TOKEN=token,  # through the environment, not argv
        OPTISCHEMA_SPOOL_DIR=str(spool_dir),
    )
    with log_path.open("wb") as agent_log:
        return subprocess.Popen(
            [str(SCRIPTS / "optischema-agent"), "run"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=agent_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a terminal's Ctrl-C is ours to relay, in order
        )


def stop_agent(agent: subprocess.Popen[bytes]) -> None:
    if agent.poll() is not None:
        return
    log("stopping the agent")
    agent.terminate()
    try:
        agent.wait(timeout=AGENT_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        agent.kill()
        agent.wait(timeout=10)


def wait_for_first_snapshot(
    base_url: str,
    email: str,
    password: str,
    database_id: str,
    agent_alive: Callable[[], bool],
    log_path: Path,
) -> None:
    """Until the control plane lists the shop's queries: the agent collected, shipped and was stored."""
    deadline = time.monotonic() + FIRST_SNAPSHOT_TIMEOUT_S
    with httpx.Client(base_url=f"{base_url}/api/v1", timeout=30.0, trust_env=False) as api:
        signed_in = api.post("/auth/login", json={"email": email, "password": password})
        signed_in.raise_for_status()
        api.headers["Authorization"] = f"Bearer {signed_in.json()['access_token']}"
        while True:
            queries = api.get(f"/databases/{database_id}/queries", params={"limit": 5})
            if queries.status_code == 200 and queries.json():
                return
            if not agent_alive():
                raise RuntimeError(f"the agent exited:\n{log_path.read_text(errors='replace')[-4000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"no snapshot from the agent in time:\n{log_path.read_text(errors='replace')[-4000:]}"
                )
            time.sleep(0.5)


def start_demo(cleanup: contextlib.ExitStack, work_dir: Path) -> DemoStack:
    """Starts everything, registering each piece's stop with `cleanup` the moment it exists."""
    work_dir.mkdir(parents=True, exist_ok=True)
    password = f"demo-{secrets.token_urlsafe(12)}"
    log("starting two throwaway PostgreSQL clusters")
    metadata_cluster, shop_cluster = start_clusters(cleanup)
    log("loading the demo shop and its first workload")
    shop_url, sandbox_url = load_shop(shop_cluster)
    metadata_url = metadata_cluster.create_database("optischema")
    log("migrating the metadata database and creating the demo tenant")
    run_admin(metadata_url, "migrate")
    create_tenant(metadata_url, password)
    log("starting the control plane")
    server_log = work_dir / "control-plane.log"
    server_log.unlink(missing_ok=True)
    server = ControlPlaneProcess(metadata_url, server_log, env=CONTROL_PLANE_SETTINGS)
    cleanup.callback(server.stop)
    server.start()
    database_id, token = register_shop(server.base_url, DEMO_EMAIL, password)
    spool_dir = Path(tempfile.mkdtemp(prefix="optischema-demo-spool-"))
    cleanup.callback(shutil.rmtree, spool_dir, ignore_errors=True)
    log("starting the agent")
    agent_log = work_dir / "agent.log"
    agent = start_agent(shop_url, sandbox_url, server.base_url, token, spool_dir, agent_log)
    cleanup.callback(stop_agent, agent)
    wait_for_first_snapshot(
        server.base_url, DEMO_EMAIL, password, database_id, lambda: agent.poll() is None, agent_log
    )
    return DemoStack(f"{server.base_url}/", DEMO_EMAIL, password, shop_url, database_id)
