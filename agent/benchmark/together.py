"""The benchmarked indexes built together, once each has been judged alone.

Plans combine indexes: a BitmapAnd of two, a join that only turns into nested loops once both of its
sides have one. Each index was timed alone against no index; the recommendations are applied as a
set. So the survivors (two or more) are built together on the sandbox, and every statement of the
workload whose plan the set changes is timed with and without all of them (the same alternating,
rolled-back runs). A statement the set makes slower beyond the bar (BenchmarkSettings.max_slowdown_pct,
on the paired runs) costs the weakest member whose index its plans used (the smallest real gain
alone) its `benchmarked` tier; one round, so the check costs one more pass over the changed plans.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import psycopg

from agent.advise.candidate_index import CandidateIndex
from agent.benchmark.candidate import (
    BudgetExhausted,
    CandidateBench,
    Deadline,
    ServedStatement,
    benchmark_index_name,
    set_timeout,
)
from agent.benchmark.measurements import CandidateBenchmark, StatementTiming, is_slowed
from agent.benchmark.runs import PreparedStatement, plan_changes, time_statement
from agent.benchmark.settings import BENCHMARK_PREFIX, BenchmarkSettings
from agent.db.session import AgentSession
from shared.sql.index_ddl import qualified_name
from shared.wire.snapshot import TableStats

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Member:
    recommendation_id: str
    candidate: CandidateIndex
    gain_pct: float  # its real gain alone


@dataclass
class TogetherResult:
    timings: list[StatementTiming] = field(default_factory=list)
    demoted: dict[str, str] = field(default_factory=dict)  # recommendation id -> why
    failure: str | None = None


def check_together(
    session: AgentSession,
    tables: Sequence[TableStats],
    settings: BenchmarkSettings,
    deadline: Deadline,
    members: Sequence[Member],
    statements: Sequence[ServedStatement],
) -> TogetherResult:
    result = TogetherResult()
    names = {m.recommendation_id: benchmark_index_name(m.candidate) for m in members}
    drop_all = "DROP INDEX IF EXISTS " + ", ".join(
        qualified_name(m.candidate.schema_name, names[m.recommendation_id]) for m in members
    )
    bench = CandidateBench(session, tables, settings, deadline)
    scratch = CandidateBenchmark(index_key="together")
    prepared: list[tuple[ServedStatement, PreparedStatement]] = []
    built = False
    try:
        session.fetch_all("SELECT pg_catalog.set_config('plan_cache_mode', 'force_custom_plan', false)")
        for number, statement in enumerate(statements):
            ready = bench.prepare(
                statement, f"{BENCHMARK_PREFIX}together_{number}", scratch, scratch.unchecked
            )
            if ready is not None:
                prepared.append((statement, ready))
        deadline.check()
        set_timeout(session, max(1, deadline.remaining_ms()))
        built = True
        for member in members:
            session.connection.execute(
                member.candidate.definition.sandbox_build_sql(names[member.recommendation_id])
            )
        set_timeout(session, settings.statement_budget_ms)
        for statement, ready in prepared:
            deadline.check()
            if not plan_changes(session, ready, drop_all, settings.plan_probes):
                continue
            timing = StatementTiming(statement.fingerprint, statement.calls)
            try:
                time_statement(
                    session,
                    ready,
                    timing,
                    drop_index=drop_all,
                    warmups=settings.warmups,
                    runs=settings.runs,
                    check_budget=deadline.check,
                )
            except psycopg.errors.QueryCanceled:
                continue  # over the statement budget: not judged here (alone, each was)
            result.timings.append(timing)
    except BudgetExhausted as error:
        result.failure = str(error)
    except psycopg.Error as error:
        result.failure = f"the sandbox refused ({type(error).__name__})"
    finally:
        bench.clean_up(
            drop_all if built else None, [ready.name for _, ready in prepared], members[0].candidate
        )
    if result.failure is None:
        _judge(result, members, names, settings)
    return result


def _judge(
    result: TogetherResult, members: Sequence[Member], names: dict[str, str], settings: BenchmarkSettings
) -> None:
    for timing in result.timings:
        used = [m for m in members if any(f"({names[m.recommendation_id]})" in s for s in timing.plans_after)]
        if not used or not is_slowed(timing, settings.max_slowdown_pct, settings.slowdown_floor_ms):
            continue
        weakest = min(used, key=lambda m: m.gain_pct)
        others = ", ".join(m.candidate.key() for m in used if m is not weakest)
        result.demoted.setdefault(
            weakest.recommendation_id,
            f"{weakest.candidate.key()}: with the other benchmarked indexes"
            + (f" ({others})" if others else "")
            + f" built too, {timing.fingerprint} ran median {timing.median_ms_before:.3f} ms -> "
            f"{timing.median_ms_after:.3f} ms, more than the {settings.max_slowdown_pct:g}% a benchmarked "
            f"index may cost any statement; alone it gained {weakest.gain_pct:.1f}%",
        )
        log.info("benchmark: %s demoted: the set slows %s", weakest.candidate.key(), timing.fingerprint)
