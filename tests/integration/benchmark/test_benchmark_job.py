"""The `benchmark_index` job on the agent: agent/benchmark's bench behind a signed job's payload.

What goes back is sizes, build time and latencies only (no sampled value), nothing is written to
the monitored database, the sandbox keeps no index, and a job the agent cannot run (no sandbox, SQL
other than its own DDL, the sandbox being the monitored database) fails with the reason.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from agent.benchmark.settings import BenchmarkSettings
from agent.config import CollectorSettings, SessionLimits
from agent.db.session import MonitoredDatabase
from agent.jobs.benchmark_index import NO_SANDBOX, IndexBenchmarker
from agent.jobs.executor import JobExecutor, WorkloadView
from agent.snapshot.collector import Collector
from shared.sql.index_ddl import IndexDefinition
from shared.wire.jobs import BenchmarkIndexPayload, BenchmarkIndexResult, JobBody
from tests.integration.benchmark.conftest import (
    SECRET,
    Pair,
    bench_indexes,
    monitored_footprint,
    planted,
    sandbox_rows,
)

SETTINGS = BenchmarkSettings(runs=3, warmups=1, total_budget_s=60)


def workload_view(pair: Pair) -> WorkloadView:
    """What the agent's cycle knows after a collection: texts, tables, the server's version."""
    database = MonitoredDatabase(pair.monitored_url)
    with database:
        collector = Collector(database, CollectorSettings(plans_per_cycle=0))
        collection = collector.collect()
        texts = collector.statement_texts()
    return WorkloadView(
        statement_texts=texts,
        server_version_num=collection.snapshot.server.version_num,
        tables=list(collection.schema.tables),
    )


def job(view: WorkloadView, *, sql: str | None = None) -> JobBody:
    fingerprints = [
        fp
        for fp, text in view.statement_texts.items()
        if text.startswith(("SELECT id, kind", "UPDATE events"))
    ]
    assert len(fingerprints) == 2
    payload = BenchmarkIndexPayload(
        recommendation_id=uuid.uuid4(),
        sql=sql or IndexDefinition.on_table("public.events", ("device_id",)).create_sql(),
        table="public.events",
        columns=["device_id"],
        fingerprints=fingerprints,
    )
    now = datetime.now(UTC)
    return JobBody(
        id=uuid.uuid4(),
        database_id=uuid.uuid4(),
        kind="benchmark_index",
        issued_at=now,
        expires_at=now + timedelta(minutes=5),
        payload=payload.model_dump(mode="json"),
    )


def executor(pair: Pair, view: WorkloadView, sandbox_url: str | None) -> JobExecutor:
    database = MonitoredDatabase(pair.monitored_url)
    benchmarker = IndexBenchmarker(database, sandbox_url, SessionLimits(), SETTINGS)
    return JobExecutor(database, view, allow_apply=False, benchmarker=benchmarker)


def test_the_job_times_the_index_on_the_sandbox_and_sends_back_no_value(pair: Pair) -> None:
    planted(pair)
    view = workload_view(pair)
    footprint, rows = monitored_footprint(pair.monitored), sandbox_rows(pair.sandbox)

    answer = executor(pair, view, pair.sandbox_url).execute(job(view))

    assert answer.status == "succeeded", answer.error
    result = BenchmarkIndexResult.model_validate(answer.result)
    assert result.benchmark.index_size_bytes > 8192 and result.benchmark.build_seconds > 0
    timed = {s.fingerprint: s for s in result.benchmark.statements}
    assert len(timed) == 2 and result.not_timed == []
    lookup = next(s for fp, s in timed.items() if view.statement_texts[fp].startswith("SELECT"))
    assert lookup.median_ms_after < lookup.median_ms_before and lookup.plan_changed is True
    assert SECRET not in answer.model_dump_json() and "note-" not in answer.model_dump_json()
    assert monitored_footprint(pair.monitored) == footprint  # nothing written to the monitored database
    assert sandbox_rows(pair.sandbox) == rows  # the timed UPDATE was rolled back
    assert bench_indexes(pair.sandbox) == []


def test_without_a_sandbox_the_job_fails_with_the_fix(pair: Pair) -> None:
    planted(pair)
    view = workload_view(pair)

    answer = executor(pair, view, None).execute(job(view))

    assert (answer.status, answer.error) == ("failed", NO_SANDBOX)


def test_sql_other_than_the_agents_own_ddl_is_refused_before_the_sandbox_is_touched(pair: Pair) -> None:
    planted(pair)
    view = workload_view(pair)

    answer = executor(pair, view, pair.sandbox_url).execute(
        job(view, sql="CREATE INDEX CONCURRENTLY x ON public.events (device_id); DROP TABLE events")
    )

    assert answer.status == "failed"
    assert answer.error is not None and "not the index this agent writes" in answer.error
    assert bench_indexes(pair.sandbox) == []


def test_a_sandbox_that_is_the_monitored_database_is_refused(pair: Pair) -> None:
    planted(pair)
    view = workload_view(pair)

    answer = executor(pair, view, pair.monitored_url).execute(job(view))

    assert answer.status == "failed"
    assert answer.error is not None and "is the monitored database itself" in answer.error
    assert bench_indexes(pair.monitored) == []
