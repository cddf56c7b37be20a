"""Jobs in privacy mode: the control plane's pseudonyms become real names here, before anything runs.

The mapping back happens before the apply allow-list and before any planning: the executor and the
applier below see exactly the job they would see without privacy mode. Their answers go back through
the same map the other way, and their free text (errors, warnings, a judge's reason) is sent only
when no real name is in it; otherwise a fixed sentence goes out and the detail stays in the local log.
A job naming a pseudonym the agent never gave out is refused, never guessed.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from pydantic import BaseModel

from agent.advise.candidate_index import CandidateIndex
from agent.apply.apply_job import ChangeApplier
from agent.db.session import MonitoredDatabase
from agent.jobs.benchmark_index import IndexBenchmarker
from agent.jobs.executor import JobExecutor, WorkloadView
from agent.privacy.names import PseudonymCollision, Pseudonyms, UnknownPseudonym
from agent.privacy.sql_text import pseudonymous_statement, real_expression, real_statement
from shared.sql.index_ddl import split_table_name
from shared.sql.parsing import UnparseableStatementError
from shared.wire.jobs import (
    BenchmarkIndexPayload,
    BenchmarkIndexResult,
    CandidateIndexSpec,
    ChangePayload,
    ChangeResult,
    JobBody,
    JobResult,
    JudgeRewritePayload,
    JudgeRewriteResult,
    SimulateIndexesPayload,
    SimulateIndexesResult,
)

log = logging.getLogger(__name__)

WITHHELD = "details withheld in privacy mode (they name the schema); see the agent's log"
# Splits free text into words to look each up among the real names: a check, never a rewrite.
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


class PseudonymousJobExecutor(JobExecutor):
    """A JobExecutor whose jobs and answers speak pseudonyms on the wire."""

    def __init__(
        self,
        database: MonitoredDatabase,
        workload: WorkloadView,
        names: Pseudonyms,
        *,
        allow_apply: bool,
        applier: ChangeApplier | None = None,
        benchmarker: IndexBenchmarker | None = None,
    ) -> None:
        super().__init__(
            database, workload, allow_apply=allow_apply, applier=applier, benchmarker=benchmarker
        )
        self.names = names

    def execute(self, job: JobBody) -> JobResult:
        try:
            real_payload = self._real_payload(job)
        except (UnknownPseudonym, UnparseableStatementError, ValueError) as error:
            log.warning("job %s (%s) refused: %s", job.id, job.kind, error)
            return JobResult(status="refused", error=f"refused by the agent: {error}")
        # Before anything runs: a name the control plane chose is remembered even if the agent dies
        # mid-build, so the index is reported under that name afterwards.
        self.names.save()
        result = super().execute(job.model_copy(update={"payload": real_payload}))
        return self._pseudonymous_result(job, result)

    def _real_payload(self, job: JobBody) -> dict[str, Any]:
        names = self.names
        if job.kind == "simulate_indexes":
            simulate = SimulateIndexesPayload.model_validate(job.payload)
            candidates = [self._real_candidate(candidate) for candidate in simulate.candidates]
            fingerprints = [names.real_fingerprint(f) for f in simulate.fingerprints]
            return _dumped(
                simulate.model_copy(update={"candidates": candidates, "fingerprints": fingerprints})
            )
        if job.kind == "judge_rewrite":
            judge = JudgeRewritePayload.model_validate(job.payload)
            return _dumped(
                judge.model_copy(
                    update={
                        "rewritten_sql": real_statement(judge.rewritten_sql, names),
                        "fingerprint": names.real_fingerprint(judge.fingerprint),
                    }
                )
            )
        if job.kind == "benchmark_index":
            return self._real_benchmark(BenchmarkIndexPayload.model_validate(job.payload))
        if job.kind in ("apply", "rollback"):
            change = ChangePayload.model_validate(job.payload)
            update = {
                "sql": real_statement(change.sql, names),
                "table": None if change.table is None else names.real_qualified(change.table),
                "index_name": None if change.index_name is None else names.real_or_chosen(change.index_name),
            }
            return _dumped(change.model_copy(update=update))
        return job.payload

    def _real_benchmark(self, payload: BenchmarkIndexPayload) -> dict[str, Any]:
        # The agent builds only the DDL it writes itself: the payload's text must be that DDL's
        # pseudonymous form, and then the real DDL goes on to the benchmarker's own check.
        names = self.names
        schema, table = split_table_name(names.real_qualified(payload.table))
        columns = tuple(self._real_key(column) for column in payload.columns)
        real_sql = CandidateIndex(schema, table, columns).create_sql()
        if pseudonymous_statement(real_sql, names) != pseudonymous_statement(payload.sql, names):
            raise ValueError("the job's SQL is not the index this agent writes for its table and columns")
        update = {
            "table": f"{schema}.{table}",
            "columns": list(columns),
            "sql": real_sql,
            "fingerprints": [names.real_fingerprint(f) for f in payload.fingerprints],
        }
        return _dumped(payload.model_copy(update=update))

    def _real_key(self, column: str) -> str:
        return self.names.real(column) if column.isidentifier() else real_expression(column, self.names)

    def _real_candidate(self, candidate: CandidateIndexSpec) -> CandidateIndexSpec:
        names = self.names
        columns = [self._real_key(column) for column in candidate.columns]
        where = None if candidate.where is None else real_expression(candidate.where, names)
        return candidate.model_copy(
            update={"table": names.real_qualified(candidate.table), "columns": columns, "where": where}
        )

    def _pseudonymous_result(self, job: JobBody, result: JobResult) -> JobResult:
        error = None if result.error is None else self._free_text(result.error)
        answer = result.result
        try:
            if answer is not None and result.status == "succeeded":
                answer = self._pseudonymous_answer(job, answer)
        except (PseudonymCollision, UnparseableStatementError, ValueError) as failure:
            log.warning("the answer to job %s cannot be pseudonymized: %s", job.id, failure)
            return JobResult(status="failed", error=f"the answer could not be pseudonymized; {WITHHELD}")
        return result.model_copy(update={"error": error, "result": answer})

    def _pseudonymous_answer(self, job: JobBody, answer: dict[str, Any]) -> dict[str, Any]:
        names = self.names
        if job.kind == "simulate_indexes":
            simulated = SimulateIndexesResult.model_validate(answer)
            # The estimates echo the job's own candidates, in order: they go back in its words.
            asked = SimulateIndexesPayload.model_validate(job.payload).candidates
            indexes = [
                estimate.model_copy(
                    update={**spec.model_dump(), "error": self._optional_text(estimate.error)}
                )
                for estimate, spec in zip(simulated.indexes, asked, strict=True)
            ]
            statements = [
                s.model_copy(
                    update={
                        "fingerprint": names.fingerprint(s.fingerprint),
                        "error": self._optional_text(s.error),
                    }
                )
                for s in simulated.statements
            ]
            return _dumped(simulated.model_copy(update={"indexes": indexes, "statements": statements}))
        if job.kind == "judge_rewrite":
            judged = JudgeRewriteResult.model_validate(answer)
            update = {
                "fingerprint": names.fingerprint(judged.fingerprint),
                "reason": self._optional_text(judged.reason),
                "error": self._optional_text(judged.error),
            }
            return _dumped(judged.model_copy(update=update))
        if job.kind == "benchmark_index":
            return _dumped(self._pseudonymous_benchmark(BenchmarkIndexResult.model_validate(answer)))
        if job.kind in ("apply", "rollback"):
            change = ChangeResult.model_validate(answer)
            index = change.index_name
            changed: dict[str, object] = {
                "index_name": None if index is None else _sent_index(index, job, names),
                "warnings": [self._free_text(warning) for warning in change.warnings],
            }
            return _dumped(change.model_copy(update=changed))
        return answer

    def _pseudonymous_benchmark(self, result: BenchmarkIndexResult) -> BenchmarkIndexResult:
        names = self.names
        timed = [
            s.model_copy(update={"fingerprint": names.fingerprint(s.fingerprint)})
            for s in result.benchmark.statements
        ]
        not_timed = [
            s.model_copy(
                update={"fingerprint": names.fingerprint(s.fingerprint), "reason": self._free_text(s.reason)}
            )
            for s in result.not_timed
        ]
        benchmark = result.benchmark.model_copy(update={"statements": timed})
        return result.model_copy(update={"benchmark": benchmark, "not_timed": not_timed})

    def _optional_text(self, text: str | None) -> str | None:
        return None if text is None else self._free_text(text)

    def _free_text(self, text: str) -> str:
        if any(self.names.is_real_name(word) for word in _WORD.findall(text)):
            log.info("withheld from the control plane: %s", text)
            return WITHHELD
        return text


def _sent_index(real_index: str, job: JobBody, names: Pseudonyms) -> str:
    # The job's own name for the index when it gave one: the control plane matches on it.
    asked = job.payload.get("index_name")
    return asked if isinstance(asked, str) else names.pseudonym(real_index, "i")


def _dumped(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")
