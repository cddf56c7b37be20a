"""`advise --benchmark`: each verified index recommendation timed on the sandbox, kept or demoted.

A recommendation whose real gain reaches `min_gain_pct`, and that makes no statement slower (served
or not: every statement on its table whose plan it changes is timed too), becomes `benchmarked` with
the figures; one that falls short moves under `skipped`, its reason holding the measured figures; one
that could not be measured at all stays `verified`, its rationale saying why. Two or more survivors
are then checked together (together.py): plans combine indexes.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace

from agent.advise.advisor import Advisor, AdvisorSettings
from agent.advise.candidate_index import CandidateIndex
from agent.benchmark.candidate import CandidateBench, Deadline, ServedStatement
from agent.benchmark.measurements import CandidateBenchmark
from agent.benchmark.sandbox import is_monitored_database, sandbox_database, sweep_leftovers
from agent.benchmark.settings import BenchmarkSettings
from agent.benchmark.together import Member, check_together
from agent.collect.server import index_stats_age
from agent.config import AgentConfig, CollectorSettings
from agent.db.session import AgentSession, MonitoredDatabase
from agent.snapshot.collector import Collection, Collector
from shared.sql.index_ddl import split_table_name
from shared.wire.advice import (
    AdviceReport,
    BenchmarkEvidence,
    Recommendation,
    SkippedStatement,
    StatementBenchmark,
)

log = logging.getLogger(__name__)


def evidence(benchmark: CandidateBenchmark) -> BenchmarkEvidence:
    return BenchmarkEvidence(
        index_size_bytes=benchmark.index_size_bytes,
        build_seconds=benchmark.build_seconds,
        statements=[
            StatementBenchmark(
                fingerprint=t.fingerprint,
                median_ms_before=round(t.median_ms_before, 3),
                median_ms_after=round(t.median_ms_after, 3),
                p95_ms_before=round(t.p95_ms_before, 3),
                p95_ms_after=round(t.p95_ms_after, 3),
                shared_buffers_before=sorted(t.buffers_before)[len(t.buffers_before) // 2],
                shared_buffers_after=sorted(t.buffers_after)[len(t.buffers_after) // 2],
                plan_changed=t.plan_changed,
            )
            for t in benchmark.timings
        ],
    )


def _candidate(recommendation: Recommendation) -> CandidateIndex | None:
    if recommendation.kind != "create_index" or recommendation.tier != "verified" or not recommendation.table:
        return None
    schema, table = split_table_name(recommendation.table)
    candidate = CandidateIndex(schema, table, tuple(recommendation.columns))
    # Only what the advisor itself wrote: anything else would be benchmarked as some other index.
    return candidate if candidate.create_sql() == recommendation.sql else None


def _others(
    collection: Collection, candidate: CandidateIndex, served: list[ServedStatement]
) -> list[ServedStatement]:
    """The workload's other statements that name the index's table: only their plans can change."""
    mentions = re.compile(rf"\b{re.escape(candidate.table)}\b", re.IGNORECASE)
    fingerprints = {s.fingerprint for s in served}
    return [
        ServedStatement(item.stats.fingerprint, item.stats.calls, item.raw_text)
        for item in collection.workload
        if item.stats.fingerprint not in fingerprints and mentions.search(item.raw_text)
    ]


def _slowed(result: CandidateBenchmark, settings: BenchmarkSettings) -> list[str]:
    """Fingerprints of the statements the index made slower beyond noise, or over the budget."""
    slowed = result.slowed(settings.max_slowdown_pct, settings.slowdown_floor_ms)
    return [t.fingerprint for t in slowed] + result.over_budget_with_index


def benchmark_report(
    report: AdviceReport, collection: Collection, sandbox: AgentSession, settings: BenchmarkSettings
) -> AdviceReport:
    raw_texts = {item.stats.fingerprint: item.raw_text for item in collection.workload}
    deadline = Deadline(settings.total_budget_s)
    bench = CandidateBench(sandbox, collection.schema.tables, settings, deadline)
    swept = sweep_leftovers(sandbox)
    kept: list[Recommendation] = []
    members: list[Member] = []
    skipped = list(report.skipped)
    for recommendation in report.recommendations:
        candidate = _candidate(recommendation)
        if candidate is None:
            kept.append(recommendation)
            continue
        served = [
            ServedStatement(q.fingerprint, q.calls, raw_texts[q.fingerprint])
            for q in recommendation.queries
            if q.fingerprint in raw_texts
        ]
        result = bench.run(candidate, served, _others(collection, candidate, served))
        not_timed = "; ".join(f"{fp}: {reason}" for fp, reason in result.skipped.items())
        if not result.measured:
            reason = result.failure or "nothing was timed"
            detail = f" ({not_timed})" if not_timed else ""
            log.info("benchmark: %s not measured: %s", candidate.key(), reason)
            kept.append(
                recommendation.model_copy(
                    update={"rationale": f"{recommendation.rationale} Not benchmarked: {reason}{detail}."}
                )
            )
        elif result.gain_pct >= settings.min_gain_pct and not _slowed(result, settings):
            log.info("benchmark: %s kept, real gain %.1f%%", candidate.key(), result.gain_pct)
            note = f" Benchmarked: {result.summary()}."
            if not_timed:
                note += f" Not timed: {not_timed}."
            members.append(Member(recommendation.id, candidate, result.gain_pct))
            kept.append(
                recommendation.model_copy(
                    update={
                        "tier": "benchmarked",
                        "benchmark": evidence(result),
                        "rationale": recommendation.rationale + note,
                    }
                )
            )
        else:
            log.info("benchmark: %s demoted, real gain %.1f%%", candidate.key(), result.gain_pct)
            reason = f"{candidate.key()}: HypoPG estimated {recommendation.improvement_pct or 0:g}% but the {result.summary()}"
            if result.gain_pct < settings.min_gain_pct:
                reason += f", below the {settings.min_gain_pct:g}% a benchmarked index needs"
            if slowed := _slowed(result, settings):
                reason += (
                    f"; it makes {', '.join(slowed)} slower, by more than the "
                    f"{settings.max_slowdown_pct:g}% a benchmarked index may cost any statement"
                )
            skipped += [
                SkippedStatement(fingerprint=q.fingerprint, query=q.query, reason=reason)
                for q in recommendation.queries
            ]
    if len(members) >= 2:
        statements = [
            ServedStatement(i.stats.fingerprint, i.stats.calls, i.raw_text) for i in collection.workload
        ]
        together = check_together(sandbox, collection.schema.tables, settings, deadline, members, statements)
        if together.failure:
            log.info("benchmark: the benchmarked indexes together not checked: %s", together.failure)
        for recommendation in [r for r in kept if r.id in together.demoted]:
            kept.remove(recommendation)
            skipped += [
                SkippedStatement(
                    fingerprint=q.fingerprint, query=q.query, reason=together.demoted[recommendation.id]
                )
                for q in recommendation.queries
            ]
    if swept:
        log.info("benchmark: swept %d leftover index(es) from an earlier run", len(swept))
    return report.model_copy(update={"recommendations": kept, "skipped": skipped})


def advise_and_benchmark(
    database: MonitoredDatabase,
    config: AgentConfig,
    collector: CollectorSettings,
    advisor: AdvisorSettings,
    settings: BenchmarkSettings,
) -> AdviceReport:
    """The local advisor on the monitored database (read-only, as ever), then the benchmark on the
    sandbox: the only database written to is the sandbox."""
    assert config.sandbox_database_url is not None
    collection = Collector(database, replace(collector, plans_per_cycle=0)).collect()
    with database.session() as session:
        report = Advisor(session, collection, replace(advisor, stats_age=index_stats_age(session))).advise()
    sandbox = sandbox_database(config.sandbox_database_url, config.limits)
    with sandbox, sandbox.session() as sandbox_session:
        with database.session() as session:
            if is_monitored_database(sandbox_session, session):
                raise SandboxIsMonitored(
                    f"{sandbox.redacted_url} is the monitored database itself: the benchmark builds "
                    "indexes, so it needs a copy"
                )
        return benchmark_report(report, collection, sandbox_session, settings)


class SandboxIsMonitored(Exception):
    """The sandbox URL leads to the monitored database: nothing is built or timed."""
