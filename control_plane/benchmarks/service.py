"""Queueing a benchmark of a verified index, and judging the agent's answer.

`POST /recommendations/{id}/benchmark` (permission `simulation.run`: analysts and admins; nothing
is changed on the monitored database) queues a signed `benchmark_index` job for a still-proposed,
verified `create_index` recommendation whose agent has a sandbox. The answer, recorded in the
transaction that settles the job, makes the recommendation `benchmarked` (its improvement_pct then
the real time cut) or `demoted` (HypoPG's estimate kept, the reason with the real medians); a job
that failed leaves the tier alone and says why in `benchmark.reason`.

Nobody has to ask, either: with `OPTISCHEMA_BENCHMARK_AUTOMATIC` (on by default) a background job
queues the same job for each new verified index of a database whose agent has a sandbox, one at a
time per database, the largest estimated cut first (`queue_automatic`, control_plane.benchmarks.automatic).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.api.errors import Conflict, NotFound
from control_plane.audit.repository import AuditRepository
from control_plane.auth.permissions import ensure_permission
from control_plane.benchmarks.repository import BenchmarkRepository
from control_plane.benchmarks.schemas import BenchmarkOut, BenchmarkQueued
from control_plane.benchmarks.verdict import judge_benchmark
from control_plane.changes.lifecycle import benchmark_refusal
from control_plane.jobs.handlers import JobKindHandler, JobKinds
from control_plane.jobs.service import enqueue_job
from control_plane.models import AgentJob, Recommendation
from control_plane.settings import Settings
from control_plane.tenancy.context import TenantContext
from shared.wire.base import WireModel
from shared.wire.jobs import BenchmarkIndexPayload, BenchmarkIndexResult


async def _now(session: AsyncSession) -> datetime:
    found = await session.scalar(select(func.now()))
    return found if isinstance(found, datetime) else datetime.now(UTC)


def _stored(benchmark: BenchmarkOut) -> dict[str, Any]:
    return benchmark.model_dump(mode="json")


async def _record(
    session: AsyncSession, context: TenantContext, actor: str, action: str, row: Any, detail: dict[str, Any]
) -> None:
    """One event of the recommendation's audit trail, which its timeline shows (`action` without the
    `recommendation.` prefix): benchmark, then benchmarked, demoted or benchmark_failed."""
    await AuditRepository(session, context).record(
        actor,
        f"recommendation.{action}",
        f"recommendation:{row.id}",
        {"database_id": str(row.database_id), "status": row.status, "kind": row.kind, **detail},
        actor_user_id=context.user_id if context.principal == "user" else None,
    )


class BenchmarkService:
    def __init__(self, session: AsyncSession, context: TenantContext, settings: Settings) -> None:
        self._session = session
        self._context = context
        self._settings = settings
        self._benchmarks = BenchmarkRepository(session, context)

    async def request(self, recommendation_id: uuid.UUID) -> BenchmarkQueued:
        recommendation = await self._benchmarks.recommendation(recommendation_id, lock=True)
        if recommendation is None:
            raise NotFound("recommendation not found")
        ensure_permission(self._context, "simulation.run")
        refusal = benchmark_refusal(
            recommendation, await self._benchmarks.has_sandbox(recommendation.database_id)
        )
        if refusal is not None:
            raise Conflict(refusal)
        return await self._queue(
            recommendation, f"user:{self._context.user_id}", {"role": self._context.role}
        )

    async def queue_automatic(self) -> int:
        """For each of the tenant's idle sandboxes, a benchmark of its database's best verified index
        that none has looked at yet; returns how many were queued."""
        queued = 0
        for database_id in await self._benchmarks.idle_sandboxes():
            waiting = await self._benchmarks.never_benchmarked(database_id)
            candidate = next((r for r in waiting if benchmark_refusal(r, has_sandbox=True) is None), None)
            if candidate is not None:
                await self._queue(candidate, "optischema", {"automatic": True})
                queued += 1
        return queued

    async def _queue(
        self, recommendation: Recommendation, actor: str, detail: dict[str, Any]
    ) -> BenchmarkQueued:
        earlier = recommendation.benchmark or {}
        payload = BenchmarkIndexPayload(
            recommendation_id=recommendation.id,
            sql=recommendation.sql,
            table=recommendation.table_name,
            columns=list(recommendation.columns),
            fingerprints=list(recommendation.fingerprints),
        )
        job = await enqueue_job(
            self._session,
            self._context,
            recommendation.database_id,
            "benchmark_index",
            payload,
            expires_in=timedelta(seconds=self._settings.job_expiry_s),
            max_attempts=self._settings.job_max_attempts,
            recommendation_id=recommendation.id,
        )
        queued = BenchmarkOut(
            verdict="queued",
            job_id=job.id,
            at=await _now(self._session),
            min_gain_pct=self._settings.benchmark_min_gain_pct,
            # HypoPG's figure, kept for the verdict: a benchmarked one's improvement_pct is the real cut.
            estimated_improvement_pct=recommendation.improvement_pct
            if recommendation.tier == "verified"
            else earlier.get("estimated_improvement_pct"),
        )
        await self._benchmarks.set_benchmark(recommendation.id, _stored(queued))
        await _record(
            self._session,
            self._context,
            actor,
            "benchmark",
            recommendation,
            {"job_id": str(job.id), **detail},
        )
        return BenchmarkQueued(recommendation_id=recommendation.id, job_id=job.id, benchmark=queued)


async def record_benchmark_outcome(
    session: AsyncSession,
    context: TenantContext,
    job: AgentJob,
    result: BenchmarkIndexResult | None,
) -> None:
    benchmarks = BenchmarkRepository(session, context)
    payload = BenchmarkIndexPayload.model_validate(job.payload)
    recommendation = await benchmarks.recommendation(payload.recommendation_id, lock=True)
    stored = (recommendation.benchmark if recommendation is not None else None) or {}
    if recommendation is None or stored.get("job_id") != str(job.id):
        return  # gone, or benchmarked again since: this answer is not the one it waits for
    now = await _now(session)
    # The bar in force when the benchmark was asked for (stored with the queued job).
    min_gain_pct = float(stored["min_gain_pct"])
    if result is None:
        failed = BenchmarkOut(
            verdict="failed",
            reason=job.error or f"the benchmark job {job.status}",
            job_id=job.id,
            at=now,
            min_gain_pct=min_gain_pct,
        )
        await benchmarks.set_benchmark(recommendation.id, _stored(failed))
        await _record(
            session, context, _agent(context), "benchmark_failed", recommendation,
            {"job_id": str(job.id), "error": failed.reason},
        )  # fmt: skip
        return
    # HypoPG's figure: kept in the benchmark when an earlier run already replaced improvement_pct.
    estimated = stored.get("estimated_improvement_pct")
    calls = await benchmarks.calls_per_day(recommendation.database_id, payload.fingerprints, now)
    judged = judge_benchmark(
        result, calls, estimated_improvement_pct=estimated, min_gain_pct=min_gain_pct, job_id=job.id, at=now
    )
    if judged.verdict == "benchmarked":
        values: dict[str, Any] = {"tier": "benchmarked", "improvement_pct": judged.gain_pct}
    else:
        values = {"tier": "demoted", "improvement_pct": estimated}
    await benchmarks.set_benchmark(recommendation.id, _stored(judged), **values)
    await _record(
        session,
        context,
        _agent(context),
        judged.verdict,
        recommendation,
        {
            "job_id": str(job.id),
            "reason": judged.reason,
            "index_size_bytes": judged.index_size_bytes,
            "duration_s": judged.build_seconds,
        },
    )


def _agent(context: TenantContext) -> str:
    return f"agent:{context.database_id}" if context.principal == "agent" else "optischema"


class BenchmarkIndexHandler(JobKindHandler):
    """A verified index built and timed on the agent's sandbox; never held by the maintenance
    window: the monitored database is not touched."""

    kind = "benchmark_index"
    payload_model: ClassVar[type[WireModel]] = BenchmarkIndexPayload
    result_model: ClassVar[type[WireModel]] = BenchmarkIndexResult

    async def on_settled(
        self, session: AsyncSession, context: TenantContext, job: AgentJob, result: WireModel | None
    ) -> None:
        measured = result if isinstance(result, BenchmarkIndexResult) else None
        await record_benchmark_outcome(session, context, job, measured)


def register_benchmark_jobs(kinds: JobKinds) -> None:
    kinds.register(BenchmarkIndexHandler())
