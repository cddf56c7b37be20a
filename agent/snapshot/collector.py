"""One collection cycle: read, diff, anonymize, assemble.

The collector keeps what a cycle needs from the previous one (counters, activity, parsed texts,
recent plans) in memory; the caller decides whether to persist the resulting state (`run` does,
`snapshot` never does, so that looking at a payload never costs the daemon an interval).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from agent.anonymize.plan import scrub_plan
from agent.collect.plans import explain_generic
from agent.collect.prerequisites import StatementStatsLocation, all_required_ok, check_server
from agent.collect.schema import SchemaReading, read_schema
from agent.collect.server import read_server
from agent.collect.statements import StatementStatsReader
from agent.config import CollectorSettings
from agent.db.session import AgentSession, MonitoredDatabase
from agent.diff.statement_deltas import Counters, StatementDiff, StatementKey, diff_statements, merge_counters
from agent.snapshot.statement_catalog import DroppedStatement, KnownStatement, StatementCatalog
from agent.state.collector_state import CollectorState
from shared.version import PRODUCT_VERSION
from shared.wire.snapshot import (
    DroppedStatements,
    IntervalInfo,
    PlanSample,
    Snapshot,
    StatementStats,
)

log = logging.getLogger(__name__)


class PrerequisitesMissing(Exception):
    pass


@dataclass(frozen=True)
class WorkloadStatement:
    """Agent-local view of one fingerprint: what the advisor needs and the wire never carries."""

    stats: StatementStats
    raw_text: str


@dataclass(frozen=True)
class Collection:
    snapshot: Snapshot
    state: CollectorState
    workload: list[WorkloadStatement]
    schema: SchemaReading
    plan_errors: dict[str, str] = field(default_factory=dict)


class Collector:
    def __init__(
        self,
        database: MonitoredDatabase,
        settings: CollectorSettings | None = None,
        state: CollectorState | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._database = database
        self._settings = settings or CollectorSettings()
        self._state = state
        self._clock = clock
        self._catalog = StatementCatalog()
        self._location: StatementStatsLocation | None = None
        self._reader: StatementStatsReader | None = None
        self._plans: dict[str, tuple[int, PlanSample]] = {}
        self._cycle = 0

    def statement_texts(self) -> dict[str, str]:
        """Fingerprint -> raw text of every statement seen in the last collection (stays local)."""
        return self._catalog.texts_by_fingerprint()

    def _prepare(self, session: AgentSession) -> StatementStatsReader:
        if self._reader is None:
            results, location = check_server(session)
            if location is None or not all_required_ok(results):
                failing = "; ".join(r.line() for r in results if r.status == "fail")
                raise PrerequisitesMissing(failing or "pg_stat_statements is not usable")
            self._location, self._reader = location, StatementStatsReader(location)
        return self._reader

    def collect(self) -> Collection:
        self._cycle += 1
        with self._database.session() as session:
            reader = self._prepare(session)
            info = reader.read_info(session)
            current = reader.read_counters(session)
            live = set(current)
            unknown = self._catalog.unknown(live)
            if unknown:
                self._catalog.learn(reader.read_texts(session, unknown))
            self._catalog.forget_except(live)
            database_oid = next(iter(current)).dbid if current else self._database_oid(session)

            previous = self._state if self._state and self._state.database_oid == database_oid else None
            diff = diff_statements(
                previous.counters if previous else None,
                current,
                previous_stats_reset=previous.stats_reset if previous else None,
                current_stats_reset=info.stats_reset if info else None,
            )
            server = read_server(
                session, previous.activity if previous else None, info.stats_reset if info else None
            )
            schema = read_schema(session)
            workload, dropped = self._assemble_statements(diff)
            plans, plan_errors = self._plans_for(session, workload, server.info.version_num)

        ended_at = self._clock()
        interval = self._interval(
            diff, previous, info.stats_reset if info else None, info.dealloc if info else None, ended_at
        )
        snapshot = Snapshot(
            snapshot_id=uuid.uuid4(),
            agent_version=PRODUCT_VERSION,
            collected_at=ended_at,
            database_name=server.database_name,
            interval=interval,
            server=server.info,
            statements=[item.stats for item in workload],
            tables=schema.tables,
            indexes=schema.indexes,
            plans=plans,
            dropped=dropped,
        )
        self._state = CollectorState(
            database_oid=database_oid,
            collected_at=ended_at,
            counters=current,
            stats_reset=info.stats_reset if info else None,
            dealloc=info.dealloc if info else None,
            activity=server.activity,
        )
        return Collection(snapshot, self._state, workload, schema, plan_errors)

    def _database_oid(self, session: AgentSession) -> int:
        row = session.fetch_one("SELECT oid FROM pg_database WHERE datname = current_database()")
        assert row is not None
        return int(row[0])

    @staticmethod
    def _interval(
        diff: StatementDiff,
        previous: CollectorState | None,
        stats_reset: datetime | None,
        current_dealloc: int | None,
        ended_at: datetime,
    ) -> IntervalInfo:
        started_at = previous.collected_at if previous else stats_reset
        deallocated = 0
        if previous and previous.dealloc is not None and current_dealloc is not None:
            deallocated = max(current_dealloc - previous.dealloc, 0)
        return IntervalInfo(
            kind=diff.kind,
            started_at=started_at,
            ended_at=ended_at,
            seconds=max((ended_at - started_at).total_seconds(), 0.0) if started_at else None,
            reset_detected=diff.reset_detected,
            entries_deallocated=deallocated,
        )

    def _assemble_statements(self, diff: StatementDiff) -> tuple[list[WorkloadStatement], DroppedStatements]:
        groups: dict[str, list[tuple[StatementKey, Counters, KnownStatement]]] = {}
        dropped: dict[str, int] = {}
        for key, counters in diff.deltas.items():
            known = self._catalog.get(key)
            if known is None:  # text vanished between the two reads (evicted): nothing safe to send
                dropped["unparseable"] = dropped.get("unparseable", 0) + 1
                continue
            if isinstance(known, DroppedStatement):
                dropped[known.reason] = dropped.get(known.reason, 0) + 1
                continue
            groups.setdefault(known.anonymized.fingerprint, []).append((key, counters, known))

        workload: list[WorkloadStatement] = []
        for fingerprint, members in groups.items():
            merged = merge_counters(counters for _, counters, _ in members)
            # The busiest member speaks for the group: its text is the one most worth planning.
            _, _, representative = max(members, key=lambda member: member[1].total_exec_time_ms)
            anonymized = representative.anonymized
            stats = StatementStats(
                fingerprint=fingerprint,
                query=anonymized.query,
                statement_type=anonymized.statement_type,
                relations=list(anonymized.relations),
                toplevel=any(key.toplevel for key, _, _ in members),
                **{name: getattr(merged, name) for name in Counters.__dataclass_fields__},
            )
            workload.append(WorkloadStatement(stats=stats, raw_text=representative.raw_text))
        workload.sort(key=lambda item: item.stats.total_exec_time_ms, reverse=True)
        return workload, DroppedStatements(counters_reset=diff.entries_reset, **dropped)

    def _plans_for(
        self, session: AgentSession, workload: list[WorkloadStatement], version_num: int
    ) -> tuple[list[PlanSample], dict[str, str]]:
        plans: list[PlanSample] = []
        errors: dict[str, str] = {}
        deadline = time.monotonic() + self._settings.plan_time_budget_s
        for item in workload[: self._settings.plans_per_cycle]:
            fingerprint = item.stats.fingerprint
            cached = self._plans.get(fingerprint)
            if cached and self._cycle - cached[0] < self._settings.plan_refresh_cycles:
                continue
            if time.monotonic() > deadline:
                log.info("plan time budget spent; remaining plans wait for a later cycle")
                break
            outcome = explain_generic(session, item.raw_text, version_num)
            if outcome.plan is None:
                errors[fingerprint] = outcome.error or "no plan"
                continue
            scrubbed = scrub_plan(outcome.plan)
            sample = PlanSample(
                fingerprint=fingerprint,
                generic=True,
                total_cost=outcome.total_cost,
                plan=scrubbed[0] if isinstance(scrubbed, list) else scrubbed,
            )
            self._plans[fingerprint] = (self._cycle, sample)
            plans.append(sample)
        return plans, errors
