"""Every API call the dashboard's pages make, timed against 30 days of history for one database.

One tenant, one database, 10,000 distinct statements and 30 days of snapshots every 5 minutes
(8,640 snapshots, ~6 million raw statement rows, ~700 per snapshot: benchmarks/dashboard_history.py
says how they are shaped and written). The metadata database is a throwaway cluster, migrated by
`optischema-admin`; the real control plane (`optischema-control-plane`, uvicorn, the runtime role
under row-level security) answers over HTTP on loopback.

Each call is made WARM_UP times untimed, then REPETITIONS times one after the other (SLOW_REPETITIONS
when its last warm-up took over SLOW_CALL_MS); its p50 and p95 are reported, and per page the
slowest of its calls' p95 against the budget: 200 ms on the reference machine (2 cores). Calls whose
parameters or paths this server does not have (found in its OpenAPI document) are skipped and named
in the output.

    .venv/bin/python -m benchmarks.dashboard_pages [--statements 10000] [--days 30] [--repetitions 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from benchmarks.control_plane_ingestion import percentile, rounded
from benchmarks.dashboard_history import History, load
from control_plane.db.engine import create_engine
from control_plane.queries.running_totals import maintain_running_totals
from control_plane.settings import Settings
from deploy.local.control_plane_process import control_plane_server, run_admin
from deploy.local.throwaway_cluster import running_cluster

WARM_UP = 3
REPETITIONS = 20
# A call whose last warm-up took longer is far over budget anyway: fewer repetitions keep the run
# under 10 minutes (20 of a 6-second call would take 2 minutes on their own).
SLOW_CALL_MS = 1_000
SLOW_REPETITIONS = 5
BUDGET_MS = 200
REQUEST_TIMEOUT_S = 60.0
METADATA_SETTINGS = {
    "fsync": "off",  # throwaway data: loading 6 million rows needs no durability
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_wal_size": "4GB",  # the load writes ~3 GB of WAL; fewer checkpoints in the middle of it
}
ADMIN_EMAIL = "admin@bench.example"
ADMIN_PASSWORD = "a benchmark admin password, long enough"
API = "/api/v1"


def say(message: str) -> None:
    print(f"dashboard_pages: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Call:
    page: str
    name: str
    path: str
    params: dict[str, str | int] = field(default_factory=dict)
    needs: tuple[str, ...] = ()  # query parameters the server must declare for this call


@dataclass
class Timed:
    call: Call
    ms: list[float] = field(default_factory=list)
    status: int | None = None
    skipped: str | None = None


def iso(at: datetime) -> str:
    return at.isoformat()


def declared_parameters(openapi: dict[str, Any], path: str) -> set[str] | None:
    """The query parameters of GET `path` (an OpenAPI template), None when there is no such path."""
    operation = openapi.get("paths", {}).get(path, {}).get("get")
    if operation is None:
        return None
    return {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}


def calls(database_id: str, busiest: str, now: datetime) -> list[Call]:
    db = f"{API}/databases/{database_id}"
    ago = {
        name: iso(now - span)
        for name, span in (
            ("1h", timedelta(hours=1)),
            ("24h", timedelta(days=1)),
            ("7d", timedelta(days=7)),
            ("30d", timedelta(days=30)),
        )
    }
    top = {"limit": 50}
    return [
        Call("shell", "me", f"{API}/me"),
        Call("shell", "databases", f"{API}/databases"),
        *(Call("overview", f"overview_{span}", f"{db}/overview", {"from": ago[span]}) for span in ago),
        Call("queries", "queries_by_total_time", f"{db}/queries", {**top, "order_by": "total_time"}),
        Call("queries", "queries_by_mean_time", f"{db}/queries", {**top, "order_by": "mean_time"}),
        Call("queries", "queries_search", f"{db}/queries", {**top, "q": "orders"}, needs=("q",)),
        Call("queries", "queries_page_3", f"{db}/queries", {**top, "offset": 100}, needs=("offset",)),
        Call("queries", "queries_30d", f"{db}/queries", {**top, "from": ago["30d"]}),
        Call("query_detail", "query_detail_24h", f"{db}/queries/{busiest}", {"from": ago["24h"]}),
        Call("query_detail", "query_detail_30d", f"{db}/queries/{busiest}", {"from": ago["30d"]}),
        Call("heatmap", "heatmap_24h", f"{db}/heatmap", {"from": ago["24h"], "to": iso(now)}),
        Call("heatmap", "heatmap_7d", f"{db}/heatmap", {"from": ago["7d"], "to": iso(now)}),
        Call("recommendations", "recommendations", f"{db}/recommendations"),
        Call("index_health", "index_health", f"{db}/index-health"),
        Call("audit", "audit_first_page", f"{API}/audit", {"limit": 200}),
        Call("audit", "audit_filtered", f"{API}/audit", {"limit": 100, "action": "recommendation.approve"}),
        Call("analyses", "analyses", f"{db}/analyses"),
    ]


def template_of(path: str, database_id: str, busiest: str) -> str:
    return path.replace(database_id, "{database_id}").replace(busiest, "{fingerprint}")


def time_calls(
    client: httpx.Client, planned: Sequence[Call], openapi: dict[str, Any], database_id: str, busiest: str
) -> list[Timed]:
    results = []
    for call in planned:
        timed = Timed(call)
        results.append(timed)
        declared = declared_parameters(openapi, template_of(call.path, database_id, busiest))
        missing = [name for name in call.needs if declared is not None and name not in declared]
        if declared is None or missing:
            timed.skipped = "no such path" if declared is None else f"no parameter {', '.join(missing)}"
            say(f"{call.name}: skipped ({timed.skipped})")
            continue
        repetitions = WARM_UP + REPETITIONS
        repetition = 0
        while repetition < repetitions:
            started = time.perf_counter()
            try:
                response = client.get(call.path, params=call.params)
            except httpx.HTTPError as error:  # counted as a failed call; the next ones still run
                say(f"{call.name}: {type(error).__name__}: {error}")
                timed.status = None
                break
            elapsed_ms = (time.perf_counter() - started) * 1000
            timed.status = response.status_code
            if response.status_code != 200:
                say(f"{call.name}: {response.status_code} {response.text[:300]}")
                break
            if repetition >= WARM_UP:
                timed.ms.append(elapsed_ms)
            elif repetition == WARM_UP - 1 and elapsed_ms > SLOW_CALL_MS:
                repetitions = WARM_UP + SLOW_REPETITIONS
            repetition += 1
        say(
            f"{call.name}: p50 {percentile(timed.ms, 0.5) or 0:.1f} ms, p95 {percentile(timed.ms, 0.95) or 0:.1f} ms"
        )
    return results


def figures(results: Sequence[Timed]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    pages: dict[str, list[float | None]] = {}
    errors = 0
    for timed in results:
        if timed.skipped:
            continue
        if timed.status != 200:
            errors += 1
        p95 = rounded(percentile(timed.ms, 0.95))
        pages.setdefault(timed.call.page, []).append(p95 if timed.status == 200 else None)
        out.append(
            {
                "name": f"dashboard_{timed.call.name}_p50_ms",
                "value": rounded(percentile(timed.ms, 0.5)),
                "unit": "ms",
                "budget": None,
            }
        )
        out.append(
            {"name": f"dashboard_{timed.call.name}_p95_ms", "value": p95, "unit": "ms", "budget": None}
        )
    for page, values in pages.items():
        worst = None if None in values else max(v for v in values if v is not None)
        out.append({"name": f"dashboard_{page}_p95_ms", "value": worst, "unit": "ms", "budget": BUDGET_MS})
    out.append({"name": "dashboard_errors", "value": errors, "unit": "errors", "budget": 0})
    out.append(
        {
            "name": "dashboard_skipped_calls",
            "value": sum(1 for t in results if t.skipped),
            "unit": "calls",
            "budget": None,
        }
    )
    return out


def compute_running_totals(metadata_url: str) -> int:
    """One turn of the workers' running-totals job (control_plane.queries.running_totals)."""
    settings = Settings(metadata_url=metadata_url, env="development", workers="off")

    async def run() -> int:
        engine = create_engine(settings, pool_size=1, max_overflow=0)
        try:
            return await maintain_running_totals(engine, settings)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def sign_in_and_register(client: httpx.Client) -> str:
    login = client.post(f"{API}/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert login.status_code == 200, login.text
    client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
    created = client.post(f"{API}/databases", json={"name": "shop"})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def main(history: History | None = None) -> list[dict[str, object]]:
    history = history or History()
    say("load average at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
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
        with (
            control_plane_server(metadata_url, Path(scratch) / "control-plane.log") as server,
            httpx.Client(base_url=server.base_url, timeout=REQUEST_TIMEOUT_S, trust_env=False) as client,
        ):
            database_id = sign_in_and_register(client)
            say(
                f"loading {history.statements} statements x {history.days} days ({history.snapshots} snapshots)..."
            )
            started = time.perf_counter()
            loaded = load(
                metadata_url,
                uuid.UUID(tenant["tenant_id"]),
                uuid.UUID(database_id),
                uuid.UUID(tenant["user_id"]),
                history,
                datetime.now(UTC),
            )
            load_s = time.perf_counter() - started
            say(
                f"loaded in {load_s:.0f}s: {loaded.raw_rows} raw rows, {loaded.rollup_rows} hourly rollup rows"
            )
            # What the workers' running-totals job has done within its interval of any real history.
            started = time.perf_counter()
            summed_days = compute_running_totals(metadata_url)
            totals_s = time.perf_counter() - started
            say(f"running totals: {summed_days} days summed in {totals_s:.1f}s")
            now = datetime.now(UTC)
            top = client.get(f"{API}/databases/{database_id}/queries", params={"limit": 1})
            assert top.status_code == 200 and top.json(), top.text
            busiest = str(top.json()[0]["fingerprint"])
            openapi = client.get("/openapi.json").json()
            results = time_calls(client, calls(database_id, busiest, now), openapi, database_id, busiest)
    say("load average at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    return [
        *figures(results),
        {"name": "dashboard_raw_statement_rows", "value": loaded.raw_rows, "unit": "rows", "budget": None},
        {"name": "dashboard_rollup_rows", "value": loaded.rollup_rows, "unit": "rows", "budget": None},
        {"name": "dashboard_snapshots", "value": loaded.snapshots, "unit": "snapshots", "budget": None},
        {"name": "dashboard_statements", "value": loaded.statements, "unit": "statements", "budget": None},
        {"name": "dashboard_load_s", "value": round(load_s, 1), "unit": "s", "budget": None},
        {
            "name": "dashboard_running_totals_first_run_s",
            "value": round(totals_s, 1),
            "unit": f"s ({summed_days} days summed by the background job, once)",
            "budget": None,
        },
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statements", type=int, default=History.statements)
    parser.add_argument("--days", type=int, default=History.days)
    parser.add_argument("--repetitions", type=int, default=REPETITIONS)
    arguments = parser.parse_args()
    REPETITIONS = arguments.repetitions
    measured = main(History(statements=arguments.statements, days=arguments.days))
    print(json.dumps({"benchmarks": measured}, indent=2))
    sys.exit(0 if all(f["value"] is not None for f in measured if f["budget"] is not None) else 1)
