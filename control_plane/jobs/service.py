"""Queueing jobs for an agent, handing them out signed, and recording the one answer to each.

Services never commit: the request's dependency owns the transaction, so a lease and the signing
that follows it either both happen or neither does.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.api.errors import Conflict, NotFound
from control_plane.auth.permissions import ensure_permission
from control_plane.databases.service import tenant_database
from control_plane.jobs.handlers import JobKinds, UnknownJobKind, job_kinds
from control_plane.jobs.outcomes import settle_job_outcome
from control_plane.jobs.repository import JobRepository
from control_plane.jobs.schemas import JudgeRewriteRequest, SimulateIndexesRequest
from control_plane.models import AgentJob
from control_plane.settings import Settings
from control_plane.signing.service import JobSigningKeys
from control_plane.tenancy.context import TenantContext
from shared.wire.base import WireModel
from shared.wire.jobs import JobBody, JobKind, JobResult, JobsResponse, LeaseRenewal

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


async def settle_stale_jobs(
    session: AsyncSession, context: TenantContext, database_id: uuid.UUID, kinds: JobKinds = job_kinds
) -> None:
    """Expires and fails what ran out of time, with the consequences of each (an apply job that
    never ran leaves its recommendation `failed`). Nobody answered these: the system acts."""
    system = replace(context, principal="system", user_id=None, role=None)
    for job in await JobRepository(session, context).settle_stale(database_id):
        await settle_job_outcome(session, system, job, kinds)


class InvalidJobResult(ValueError):
    pass


async def enqueue_job(
    session: AsyncSession,
    context: TenantContext,
    database_id: uuid.UUID,
    kind: JobKind,
    payload: WireModel | dict[str, Any],
    *,
    expires_in: timedelta,
    max_attempts: int,
    not_before: datetime | None = None,
    recommendation_id: uuid.UUID | None = None,
    kinds: JobKinds = job_kinds,
) -> AgentJob:
    """Queues a job for the agent of `database_id` (which the caller has already found in its tenant).

    The payload is validated against its kind's model, so that nothing the agent would reject as
    malformed is ever queued.
    A kind no domain registered is refused (UnknownJobKind) before anything is written.
    """
    handler = kinds.handler_for(kind)
    document = payload.model_dump(mode="json") if isinstance(payload, WireModel) else payload
    checked = handler.payload_model.model_validate(document)
    handler.admit(checked)
    return await JobRepository(session, context).add(
        database_id,
        kind=kind,
        payload=checked.model_dump(mode="json"),
        expires_in=expires_in,
        not_before=not_before,
        max_attempts=max_attempts,
        recommendation_id=recommendation_id,
    )


def checked_result(
    kind: str, answer: JobResult, kinds: JobKinds = job_kinds
) -> tuple[str, dict[str, Any] | None, str | None]:
    """(status, result, error) to store for an agent's answer; InvalidJobResult when it is malformed."""
    if answer.status != "succeeded":
        error = answer.error or "the agent gave no reason"
        return (
            "failed",
            answer.result,
            error if answer.status == "failed" else f"refused by the agent: {error}",
        )
    try:
        model = kinds.handler_for(kind).result_model
        return "succeeded", model.model_validate(answer.result or {}).model_dump(mode="json"), None
    except UnknownJobKind as error:
        raise InvalidJobResult(str(error)) from None
    except ValidationError as error:
        raise InvalidJobResult(f"not a {kind} result: {error.errors()[0]['msg']}") from None


class AgentJobService:
    """The agent's side: lease and answer jobs of its own database only."""

    def __init__(
        self,
        session: AsyncSession,
        context: TenantContext,
        settings: Settings,
        signing: JobSigningKeys,
        clock: Clock = utc_now,
        kinds: JobKinds = job_kinds,
    ) -> None:
        assert context.principal == "agent" and context.database_id is not None
        self._kinds = kinds
        self._clock = clock
        self._session = session
        self._database_id = context.database_id
        self._settings = settings
        self._signing = signing
        self._context = context
        self._jobs = JobRepository(session, context)

    async def lease(self, limit: int) -> JobsResponse:
        lease = timedelta(seconds=self._settings.job_lease_s)
        await settle_stale_jobs(self._session, self._context, self._database_id, self._kinds)
        # Outside the database's maintenance window, changes wait; simulations still go out.
        window_open = await self._kinds.window_open(
            self._session, self._context, self._database_id, self._clock()
        )
        held_back = () if window_open else self._kinds.held_by_maintenance_window()
        leased = await self._jobs.lease(
            self._database_id, limit, lease, held_back=held_back, kinds=self._kinds.kinds()
        )
        for kind in sorted({job.kind for job in leased}):
            mine = [job for job in leased if job.kind == kind]
            await self._kinds.handler_for(kind).on_leased(self._session, self._context, mine)
        now = await self._jobs.now()
        # Valid no longer than the lease: a job re-leased after a lost lease is never valid in two
        # hands at once. The signature carries the attempt, so the re-lease is not a replay.
        ttl = timedelta(seconds=min(self._settings.job_ttl_s, self._settings.job_lease_s))
        bodies = [
            JobBody(
                id=job.id,
                database_id=job.database_id,
                kind=cast(JobKind, job.kind),
                attempt=job.attempts,
                issued_at=now,
                expires_at=min(job.expires_at, now + ttl),
                payload=job.payload,
            )
            for job in leased
        ]
        return JobsResponse(jobs=await self._signing.sign(self._session, bodies))

    async def renew_lease(self, job_id: uuid.UUID) -> LeaseRenewal:
        """A long build keeps its job: the lease runs job_lease_s from now again."""
        lease = timedelta(seconds=self._settings.job_lease_s)
        renewed = await self._jobs.renew_lease(self._database_id, job_id, lease)
        if renewed is not None:
            return LeaseRenewal(job_id=job_id, lease_expires_at=renewed)
        job = await self._jobs.get(self._database_id, job_id)
        if job is None:
            raise NotFound("job not found")
        raise Conflict(f"job {job_id} is {job.status}, not leased; its lease cannot be renewed")

    async def record_result(self, job_id: uuid.UUID, answer: JobResult) -> str:
        job = await self._jobs.get(self._database_id, job_id)
        if job is None:
            raise NotFound("job not found")
        status, result, error = checked_result(job.kind, answer, self._kinds)
        if not await self._jobs.finish(self._database_id, job_id, status=status, result=result, error=error):
            raise Conflict(
                f"job {job_id} is {job.status}, not waiting for a result; this answer was not recorded"
            )
        await self._session.refresh(job)
        await settle_job_outcome(self._session, self._context, job, self._kinds)
        return status


class UserJobService:
    """People's side: queue simulations for a database of their tenant and read a job's outcome."""

    def __init__(self, session: AsyncSession, context: TenantContext, settings: Settings) -> None:
        self._session = session
        self._context = context
        self._settings = settings
        self._jobs = JobRepository(session, context)

    async def simulate(
        self, database_id: uuid.UUID, request: SimulateIndexesRequest | JudgeRewriteRequest
    ) -> AgentJob:
        # Another tenant's database is a 404 before the role is checked.
        await tenant_database(self._session, self._context, database_id)
        ensure_permission(self._context, "simulation.run")
        payload = request.model_dump(mode="json", exclude={"kind"})
        return await enqueue_job(
            self._session,
            self._context,
            database_id,
            request.kind,
            payload,
            expires_in=timedelta(seconds=self._settings.job_expiry_s),
            max_attempts=self._settings.job_max_attempts,
        )

    async def get(self, database_id: uuid.UUID, job_id: uuid.UUID) -> AgentJob:
        await tenant_database(self._session, self._context, database_id)
        # Expiry is otherwise settled when the agent polls: a job whose agent went away must not
        # read as queued forever.
        await settle_stale_jobs(self._session, self._context, database_id)
        job = await self._jobs.get(database_id, job_id)
        if job is None:
            raise NotFound("job not found")
        return job
