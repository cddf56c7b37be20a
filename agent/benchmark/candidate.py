"""Benchmark one candidate index on the sandbox: build it (timed), time what it serves, drop it.

The index is dropped in every case (a failed run, a statement or the whole budget running out, an
error): `finally` drops it, and `sweep_leftovers` catches what a killed process left at the next
start. Errors are reported by their class name only: PostgreSQL quotes values in its messages.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

from agent.advise.candidate_index import CandidateIndex
from agent.benchmark.binding import bind_values, window_argument
from agent.benchmark.measurements import CandidateBenchmark, StatementTiming
from agent.benchmark.parameters import (
    NeutralValue,
    ParameterSource,
    UnsampleableStatement,
    WindowRef,
    parameter_sources,
)
from agent.benchmark.runs import PreparedStatement, plan_changes, time_statement
from agent.benchmark.settings import BENCHMARK_PREFIX, BenchmarkSettings
from agent.db.session import AgentSession
from shared.sql.index_ddl import qualified_name
from shared.sql.normalized_text import repair_normalized_text
from shared.wire.snapshot import TableStats

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServedStatement:
    fingerprint: str
    calls: int
    raw_text: str  # the workload's text with its `$n`; never printed or logged


class BudgetExhausted(Exception):
    pass


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def remaining_ms(self) -> int:
        return max(0, int((self._end - time.monotonic()) * 1000))

    def check(self) -> None:
        if time.monotonic() >= self._end:
            raise BudgetExhausted(f"the total benchmark budget of {self.seconds:g} s ran out")


def benchmark_index_name(candidate: CandidateIndex) -> str:
    return f"{BENCHMARK_PREFIX}{hashlib.sha256(candidate.key().encode()).hexdigest()[:16]}"


def set_timeout(session: AgentSession, milliseconds: int) -> None:
    session.fetch_all("SELECT pg_catalog.set_config('statement_timeout', %s, false)", [str(milliseconds)])


class CandidateBench:
    def __init__(
        self,
        session: AgentSession,
        tables: Sequence[TableStats],
        settings: BenchmarkSettings,
        deadline: Deadline,
    ) -> None:
        self._session = session
        self._tables = tables
        self._settings = settings
        self._deadline = deadline

    def run(
        self,
        candidate: CandidateIndex,
        statements: Sequence[ServedStatement],
        others: Sequence[ServedStatement] = (),
    ) -> CandidateBenchmark:
        """Times the statements the index serves; then every one of `others` (the rest of the workload
        on its table) whose plan the index changes: an index serves some statements and may still
        change the plan of another for the worse. On TPC-H at SF 1 our indexes turned hash joins into
        index plans in queries 7, 9, 13 and 21, which ran 40-140 % slower; the index was judged on
        the statements it was meant for only."""
        result = CandidateBenchmark(index_key=candidate.key())
        name = benchmark_index_name(candidate)
        drop = f"DROP INDEX IF EXISTS {qualified_name(candidate.schema_name, name)}"
        prepared: list[tuple[ServedStatement, PreparedStatement]] = []
        checked: list[tuple[ServedStatement, PreparedStatement]] = []
        built = False
        try:
            # Custom plans for the values bound, as the application's literal statements get them.
            self._session.fetch_all(
                "SELECT pg_catalog.set_config('plan_cache_mode', 'force_custom_plan', false)"
            )
            for number, statement in enumerate(statements):
                ready = self.prepare(statement, f"{name}_s{number}", result)
                if ready is not None:
                    prepared.append((statement, ready))
            if not prepared:
                result.failure = "no statement it serves could be prepared with sampled values"
                return result
            for number, statement in enumerate(others):
                ready = self.prepare(statement, f"{name}_o{number}", result, result.unchecked)
                if ready is not None:
                    checked.append((statement, ready))
            self._deadline.check()
            set_timeout(self._session, max(1, self._deadline.remaining_ms()))
            started = time.perf_counter()
            built = True
            self._session.connection.execute(candidate.definition.sandbox_build_sql(name))
            result.build_seconds = round(time.perf_counter() - started, 3)
            size = self._session.fetch_one(
                "SELECT pg_catalog.pg_relation_size(%s::regclass)",
                [qualified_name(candidate.schema_name, name)],
            )
            result.index_size_bytes = int(size[0]) if size else 0
            set_timeout(self._session, self._settings.statement_budget_ms)
            # Once the index has made one statement slower it is demoted whatever the rest gives, so
            # the rest is not timed: on TPC-H at SF 1 most candidates on lineitem change the plans of
            # 10 or more statements of 0.2-6 s, 16 runs each.
            for statement, ready in prepared:
                if not self._slowed(result):
                    self._time(statement, ready, name, drop, result)
            for statement, ready in checked:
                self._deadline.check()
                if not self._slowed(result) and plan_changes(
                    self._session, ready, drop, self._settings.plan_probes
                ):
                    self._time(statement, ready, name, drop, result, served=False)
        except BudgetExhausted as error:
            result.failure = str(error)
        except psycopg.errors.QueryCanceled:
            result.failure = "building the index exceeded the remaining benchmark budget"
        except psycopg.Error as error:
            result.failure = f"the sandbox refused ({type(error).__name__})"
        finally:
            names = [ready.name for _, ready in [*prepared, *checked]]
            self.clean_up(drop if built else None, names, candidate)
        if result.failure is None and not result.timings:
            result.failure = "no statement it serves could be timed"
        return result

    def prepare(
        self,
        statement: ServedStatement,
        name: str,
        result: CandidateBenchmark,
        reasons: dict[str, str] | None = None,
    ) -> PreparedStatement | None:
        """The statement prepared on the sandbox with the values to bind, or None with the reason
        in `reasons` (by default the statements not timed, `result.skipped`)."""
        skipped = result.skipped if reasons is None else reasons
        try:
            sources = parameter_sources(statement.raw_text, self._tables, self._settings)
            self._prepare_text(name, repair_normalized_text(statement.raw_text), sources)
            row = self._session.fetch_one(
                "SELECT parameter_types::text[] FROM pg_catalog.pg_prepared_statements WHERE name = %s",
                [name],
            )
            types = tuple(str(t) for t in (row[0] if row else []))
            if len(types) != max(sources, default=0) or "unknown" in types:
                self._session.fetch_all(f"DEALLOCATE {name}")
                skipped[statement.fingerprint] = "the server cannot tell the type of every parameter"
                return None
            values = bind_values(self._session, sources, types, self._settings.values_per_parameter)
            arguments = tuple(
                window_argument(self._session, source, types[number - 1])
                if isinstance(source := sources.get(number), WindowRef)
                else None
                for number in range(1, len(types) + 1)
            )
        except UnsampleableStatement as error:
            self._deallocate(name)
            skipped[statement.fingerprint] = f"its parameters cannot be sampled: {error}"
            return None
        except psycopg.Error as error:
            self._deallocate(name)
            skipped[statement.fingerprint] = f"it cannot be prepared on the sandbox ({type(error).__name__})"
            return None
        return PreparedStatement(name=name, parameter_types=types, values=values, arguments=arguments)

    def _prepare_text(self, name: str, text: str, sources: dict[int, ParameterSource]) -> None:
        """PREPARE, letting the server infer every type; if it cannot, once more with the numeric
        constants (arithmetic operands, CASE results) declared `numeric`. The normalized text lost
        the literals' types: TPC-H Q12's `sum(CASE ... THEN 1 ELSE 0 END)` became `sum(CASE ... THEN
        $3 ELSE $4 END)`, read as sum(text) and refused, and Q19's `l_quantity <= $8 + $9` is an
        ambiguous operator until one side has a type."""
        numbers = range(1, max(sources, default=0) + 1)
        neutral = [s if isinstance(s := sources.get(n), NeutralValue) else NeutralValue() for n in numbers]
        declared = [
            (s.declared if isinstance(s := sources.get(n), NeutralValue | WindowRef) else None) or "unknown"
            for n in numbers
        ]
        try:
            if all(t == "unknown" for t in declared):
                self._session.explain_text(f"PREPARE {name} AS {text}")
            else:  # substring positions: the integers they were before normalization
                self._session.explain_text(f"PREPARE {name} ({', '.join(declared)}) AS {text}")
        except (psycopg.errors.UndefinedFunction, psycopg.errors.AmbiguousFunction):
            if not any(s.numeric for s in neutral):
                raise
            numeric = ["numeric" if s.numeric else t for s, t in zip(neutral, declared, strict=True)]
            self._session.explain_text(f"PREPARE {name} ({', '.join(numeric)}) AS {text}")

    def _deallocate(self, name: str) -> None:
        """DEALLOCATE a statement that was prepared but cannot be timed (its values failed)."""
        try:
            row = self._session.fetch_one(
                "SELECT 1 FROM pg_catalog.pg_prepared_statements WHERE name = %s", [name]
            )
            if row is not None:
                self._session.fetch_all(f"DEALLOCATE {name}")
        except psycopg.Error:
            pass  # left to the session's end: prepared statements die with it

    def _time(
        self,
        statement: ServedStatement,
        ready: PreparedStatement,
        index_name: str,
        drop: str,
        result: CandidateBenchmark,
        served: bool = True,
    ) -> None:
        timing = StatementTiming(
            fingerprint=statement.fingerprint, calls=statement.calls, index_name=index_name, served=served
        )
        try:
            time_statement(
                self._session,
                ready,
                timing,
                drop_index=drop,
                warmups=self._settings.warmups,
                runs=self._settings.runs,
                check_budget=self._deadline.check,
            )
        except psycopg.errors.QueryCanceled:
            if timing.timed_out_with_index:
                # Without the index it ran within the budget, with it not: slower, however much.
                result.over_budget_with_index.append(statement.fingerprint)
            reasons = result.skipped if served else result.unchecked
            reasons[statement.fingerprint] = (
                f"a run exceeded the statement budget of {self._settings.statement_budget_ms} ms"
            )
            return
        except psycopg.Error as error:
            reasons = result.skipped if served else result.unchecked
            reasons[statement.fingerprint] = f"a run failed on the sandbox ({type(error).__name__})"
            return
        result.timings.append(timing)
        log.info(
            "benchmark: %s for %s: median %.3f ms -> %.3f ms",
            statement.fingerprint,
            result.index_key,
            timing.median_ms_before,
            timing.median_ms_after,
        )

    def _slowed(self, result: CandidateBenchmark) -> bool:
        return bool(result.slowed(self._settings.max_slowdown_pct, self._settings.slowdown_floor_ms))

    def clean_up(self, drop: str | None, prepared: list[str], candidate: CandidateIndex) -> None:
        """Always: the index goes, the prepared statements go. A failure here is left to the sweep."""
        try:
            set_timeout(self._session, self._settings.statement_budget_ms)
            if drop is not None:
                self._session.connection.execute(drop)
            for name in prepared:
                self._session.fetch_all(f"DEALLOCATE {name}")
        except psycopg.Error as error:
            log.warning(
                "benchmark: could not drop the index for %s on the sandbox (%s); the next run sweeps it",
                candidate.key(),
                type(error).__name__,
            )
