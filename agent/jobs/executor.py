"""Runs one verified job and always produces exactly one answer for it.

A job the agent cannot parse, does not know or may not run gets a `failed` or `refused` result with
the reason, never silence: the control plane would otherwise lease it again and again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from pydantic import ValidationError

from agent.anonymize.error_text import scrub_error
from agent.apply.apply_job import ChangeApplier
from agent.db.session import DatabaseUnavailable, MonitoredDatabase
from agent.jobs.benchmark_index import NO_SANDBOX, BenchmarkUnavailable, IndexBenchmarker
from agent.jobs.simulate import SimulationUnavailable, judge_rewrite_job, simulate_indexes
from shared.wire.jobs import (
    BenchmarkIndexPayload,
    ChangePayload,
    JobBody,
    JobResult,
    JudgeRewritePayload,
    SimulateIndexesPayload,
)
from shared.wire.snapshot import TableStats

log = logging.getLogger(__name__)


@dataclass
class WorkloadView:
    """What the latest collections told the agent: enough to resolve a job's fingerprints."""

    statement_texts: dict[str, str] = field(default_factory=dict)
    known_columns: dict[str, set[str]] = field(default_factory=dict)
    server_version_num: int | None = None
    tables: list[TableStats] = field(default_factory=list)  # for a benchmark's parameter sampling


class JobExecutor:
    def __init__(
        self,
        database: MonitoredDatabase,
        workload: WorkloadView,
        *,
        allow_apply: bool,
        applier: ChangeApplier | None = None,
        benchmarker: IndexBenchmarker | None = None,
    ) -> None:
        self._database = database
        self._workload = workload
        self._allow_apply = allow_apply
        self._applier = applier
        self._benchmarker = benchmarker

    def execute(self, job: JobBody) -> JobResult:
        try:
            if job.kind == "simulate_indexes":
                return self._simulate(SimulateIndexesPayload.model_validate(job.payload))
            if job.kind == "judge_rewrite":
                return self._judge(JudgeRewritePayload.model_validate(job.payload))
            if job.kind == "benchmark_index":
                return self._benchmark(BenchmarkIndexPayload.model_validate(job.payload))
            if job.kind not in ("apply", "rollback"):
                return JobResult(
                    status="refused", error=f"{job.kind} jobs are not supported by this agent version"
                )
            if not self._allow_apply:
                return JobResult(
                    status="refused",
                    error=f"{job.kind} refused: this agent runs with apply disabled (--allow-apply is off)",
                )
            payload = ChangePayload.model_validate(job.payload)
            if self._applier is None:
                return JobResult(
                    status="refused", error=f"{job.kind} refused: no apply database is configured"
                )
            return self._applier.run(job.kind, payload)
        except ValidationError as error:
            return JobResult(
                status="failed", error=f"the {job.kind} payload is malformed: {scrub_error(error)}"
            )
        except (SimulationUnavailable, BenchmarkUnavailable, DatabaseUnavailable) as error:
            return JobResult(status="failed", error=scrub_error(error))
        except Exception as error:
            log.exception("job %s (%s) failed", job.id, job.kind)
            return JobResult(status="failed", error=f"{type(error).__name__}: {scrub_error(error)}")

    def _version(self) -> int:
        if self._workload.server_version_num is None:
            raise SimulationUnavailable(
                "the agent has not read the server yet; the job runs after a collection"
            )
        return self._workload.server_version_num

    def _simulate(self, payload: SimulateIndexesPayload) -> JobResult:
        version = self._version()
        with self._database.session() as session:
            result = simulate_indexes(
                session, payload, self._workload.statement_texts, self._workload.known_columns, version
            )
        return JobResult(status="succeeded", result=result.model_dump(mode="json"))

    def _judge(self, payload: JudgeRewritePayload) -> JobResult:
        version = self._version()
        with self._database.session() as session:
            result = judge_rewrite_job(session, payload, self._workload.statement_texts, version)
        return JobResult(status="succeeded", result=result.model_dump(mode="json"))

    def _benchmark(self, payload: BenchmarkIndexPayload) -> JobResult:
        if self._benchmarker is None or not self._benchmarker.available:
            return JobResult(status="failed", error=NO_SANDBOX)
        self._version()  # the statement texts and tables come from a collection
        result = self._benchmarker.run(payload, self._workload.statement_texts, self._workload.tables)
        return JobResult(status="succeeded", result=result.model_dump(mode="json"))
