"""The `benchmark_index` job: one verified candidate index built and timed on the sandbox (issue 16).

Everything is agent/benchmark's own machinery (`CandidateBench`, the same code `advise --benchmark`
runs): this module only checks the job, resolves its fingerprints among the statements the agent
itself read, and turns the measurements into the wire result. The monitored database is never
written to: without a sandbox the job fails with the fix, and a "sandbox" that is the monitored
database itself is refused. Only timings, sizes and fingerprints go back, never a sampled value.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from agent.advise.candidate_index import CandidateIndex
from agent.benchmark.advice import evidence
from agent.benchmark.candidate import CandidateBench, Deadline, ServedStatement
from agent.benchmark.sandbox import is_monitored_database, sandbox_database, sweep_leftovers
from agent.benchmark.settings import BenchmarkSettings
from agent.config import SessionLimits
from agent.db.session import MonitoredDatabase
from agent.jobs.simulate import NOT_IN_WORKLOAD
from shared.sql.index_ddl import split_table_name
from shared.wire.jobs import BenchmarkIndexPayload, BenchmarkIndexResult, NotTimed
from shared.wire.snapshot import TableStats

log = logging.getLogger(__name__)

NO_SANDBOX = (
    "this agent has no sandbox database: set --sandbox-database-url (OPTISCHEMA_SANDBOX_DATABASE_URL) "
    "to a writable copy of the monitored database"
)


class BenchmarkUnavailable(Exception):
    """The job cannot run here at all (no sandbox, the sandbox is the monitored database, nothing to time)."""


class IndexBenchmarker:
    def __init__(
        self,
        monitored: MonitoredDatabase,
        sandbox_url: str | None,
        limits: SessionLimits,
        settings: BenchmarkSettings,
    ) -> None:
        self._monitored = monitored
        self._sandbox_url = sandbox_url
        self._limits = limits
        self._settings = settings

    @property
    def available(self) -> bool:
        return self._sandbox_url is not None

    def run(
        self,
        payload: BenchmarkIndexPayload,
        statement_texts: Mapping[str, str],
        tables: Sequence[TableStats],
    ) -> BenchmarkIndexResult:
        if self._sandbox_url is None:
            raise BenchmarkUnavailable(NO_SANDBOX)
        schema, table = split_table_name(payload.table)
        candidate = CandidateIndex(schema, table, tuple(payload.columns))
        # The signature proves who sent the text, not what it builds: only the agent's own DDL runs.
        if candidate.create_sql() != payload.sql:
            raise BenchmarkUnavailable(
                f"the SQL of the job is not the index this agent writes for {candidate.key()}: refused"
            )
        not_timed = [
            NotTimed(fingerprint=fp, reason=NOT_IN_WORKLOAD)
            for fp in dict.fromkeys(payload.fingerprints)
            if fp not in statement_texts
        ]
        # Each statement counts once: the control plane weighs the figures by its own calls per day.
        served = [
            ServedStatement(fp, 1, statement_texts[fp])
            for fp in dict.fromkeys(payload.fingerprints)
            if fp in statement_texts
        ]
        if not served:
            raise BenchmarkUnavailable("none of the statements it serves is in pg_stat_statements now")
        sandbox = sandbox_database(self._sandbox_url, self._limits)
        with sandbox, sandbox.session() as session:
            with self._monitored.session() as monitored:
                if is_monitored_database(session, monitored):
                    raise BenchmarkUnavailable(
                        f"{sandbox.redacted_url} is the monitored database itself: the benchmark builds "
                        "indexes, so it needs a copy"
                    )
            sweep_leftovers(session)
            bench = CandidateBench(session, tables, self._settings, Deadline(self._settings.total_budget_s))
            measured = bench.run(candidate, served)
        not_timed += [NotTimed(fingerprint=fp, reason=why) for fp, why in measured.skipped.items()]
        if not measured.measured:
            detail = "; ".join(f"{n.fingerprint}: {n.reason}" for n in not_timed)
            reason = measured.failure or "nothing was timed"
            raise BenchmarkUnavailable(f"{reason}" + (f" ({detail})" if detail else ""))
        log.info("benchmark job: %s measured: %s", candidate.key(), measured.summary())
        return BenchmarkIndexResult(benchmark=evidence(measured), not_timed=not_timed)
