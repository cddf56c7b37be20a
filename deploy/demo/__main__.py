"""`make demo`: a throwaway cluster, the demo shop and its workload, then the agent's view of it.

Runs until interrupted (SIGINT or SIGTERM), keeping the workload going; stops everything it started.
Set OPTISCHEMA_DEMO_ONCE=1 to exit right after the first report (used by the tests).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import psycopg

from deploy.demo.shop import create_shop, run_workload
from deploy.local.throwaway_cluster import running_cluster

DEMO_DIR = Path(".demo")


def _agent(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = str(Path(sys.executable).with_name("optischema-agent"))
    return subprocess.run([command, *args], env=env, capture_output=True, text=True, check=False)


def main() -> int:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    DEMO_DIR.mkdir(exist_ok=True)
    print("starting a throwaway PostgreSQL cluster...", file=sys.stderr)
    with running_cluster() as cluster:
        url = cluster.create_database("shop", extensions=("pg_stat_statements", "hypopg"))
        with psycopg.connect(url, autocommit=True) as conn:
            print("loading the demo shop...", file=sys.stderr)
            create_shop(conn)
            run_workload(conn, statements=1_000)
        env = {**os.environ, "OPTISCHEMA_DATABASE_URL": url, "OPTISCHEMA_SPOOL_DIR": str(DEMO_DIR / "spool")}
        check = _agent("check", env=env)
        print(check.stdout, end="")
        snapshot_file = DEMO_DIR / "snapshot.json"
        snapshot = _agent("snapshot", "--output", str(snapshot_file), env=env)
        if snapshot.returncode != 0:
            print(snapshot.stderr, file=sys.stderr)
            return 1
        payload = json.loads(snapshot_file.read_text())
        print(
            f"Snapshot: {snapshot_file} ({len(payload['statements'])} statements, {len(payload['plans'])} plans)"
        )
        for statement in payload["statements"][:5]:
            print(
                f"  {statement['calls']:>6} calls  {statement['total_exec_time_ms']:>10.1f} ms  {statement['query']}"
            )
        print(f"Database: {url}")
        if os.environ.get("OPTISCHEMA_DEMO_ONCE"):
            return 0
        print("Workload running; press Ctrl-C to stop.", file=sys.stderr)
        with psycopg.connect(url, autocommit=True) as conn:
            while not stop.is_set():
                run_workload(conn, statements=200, seed=int.from_bytes(os.urandom(2), "big"))
                stop.wait(1.0)
    print("stopped.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
