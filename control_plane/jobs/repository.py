"""The agent_jobs queue. Every statement is tenant-scoped, and leasing never waits for another replica.

Leasing and the clean-up before it take their rows with `FOR UPDATE SKIP LOCKED`: two replicas
serving the same agent each get different jobs, and neither blocks on rows the other holds. Every
time comparison uses the metadata database's `now()`, the one clock all replicas share.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.models import AgentJob
from control_plane.models.agent_job import UNFINISHED
from control_plane.tenancy.context import TenantContext

NO_SYNC = {"synchronize_session": False}


class JobRepository:
    def __init__(self, session: AsyncSession, context: TenantContext) -> None:
        self._session = session
        self._tenant_id = context.tenant_id

    def _of(self, database_id: uuid.UUID) -> list[Any]:
        return [AgentJob.tenant_id == self._tenant_id, AgentJob.database_id == database_id]

    async def now(self) -> datetime:
        found: datetime = await self._session.scalar(select(func.now()))  # type: ignore[assignment]
        return found

    async def add(
        self,
        database_id: uuid.UUID,
        *,
        kind: str,
        payload: dict[str, Any],
        expires_in: timedelta,
        not_before: datetime | None,
        max_attempts: int,
        recommendation_id: uuid.UUID | None,
    ) -> AgentJob:
        job = AgentJob(
            tenant_id=self._tenant_id,
            id=uuid.uuid4(),
            database_id=database_id,
            kind=kind,
            payload=payload,
            status="queued",
            attempts=0,
            max_attempts=max_attempts,
            expires_at=func.now() + expires_in,
            recommendation_id=recommendation_id,
        )
        if not_before is not None:
            job.not_before = not_before
        self._session.add(job)
        await self._session.flush()
        await self._session.refresh(job)  # the server's now(): created_at, not_before, expires_at
        return job

    async def get(self, database_id: uuid.UUID, job_id: uuid.UUID) -> AgentJob | None:
        return await self._session.scalar(
            select(AgentJob).where(*self._of(database_id), AgentJob.id == job_id)
        )

    async def settle_stale(self, database_id: uuid.UUID) -> list[AgentJob]:
        """Expires jobs nobody ran in time and fails jobs whose every lease ran out without a result;
        returns them, for their consequences (see control_plane.jobs.outcomes).

        A leased job past its expiry is left alone while its lease runs: its agent may still answer.
        """
        now = func.now()
        lease_over = and_(AgentJob.status == "leased", AgentJob.lease_expires_at <= now)
        exhausted = AgentJob.attempts >= AgentJob.max_attempts
        stale = (
            select(AgentJob.tenant_id, AgentJob.id)
            .where(
                *self._of(database_id),
                AgentJob.status.in_(UNFINISHED),
                or_(
                    and_(AgentJob.status == "queued", AgentJob.expires_at <= now),
                    and_(lease_over, or_(exhausted, AgentJob.expires_at <= now)),
                ),
            )
            .with_for_update(skip_locked=True)
            .cte("stale")
        )
        failed = and_(AgentJob.status == "leased", exhausted)
        settled = await self._session.scalars(
            update(AgentJob)
            .where(AgentJob.tenant_id == stale.c.tenant_id, AgentJob.id == stale.c.id)
            .values(
                status=case((failed, "failed"), else_="expired"),
                error=case(
                    (failed, func.concat("no result from the agent after ", AgentJob.attempts, " leases")),
                    else_="expired before the agent answered it",
                ),
                finished_at=now,
                lease_expires_at=None,
            )
            .returning(AgentJob)
            .execution_options(**NO_SYNC, populate_existing=True)
        )
        return list(settled)

    async def lease(
        self,
        database_id: uuid.UUID,
        limit: int,
        lease: timedelta,
        *,
        held_back: Sequence[str] = (),
        kinds: Sequence[str] | None = None,
    ) -> list[AgentJob]:
        """Up to `limit` ready jobs, oldest first, leased to the caller for `lease` (attempts + 1).
        Jobs of the `held_back` kinds stay queued (a closed maintenance window), and so do jobs of
        any kind outside `kinds` (one no handler is registered for) until they expire."""
        now = func.now()
        ready = (
            select(AgentJob.tenant_id, AgentJob.id)
            .where(
                *self._of(database_id),
                AgentJob.kind.not_in(held_back) if held_back else true(),
                AgentJob.kind.in_(kinds) if kinds is not None else true(),
                AgentJob.status.in_(UNFINISHED),
                or_(AgentJob.status == "queued", AgentJob.lease_expires_at <= now),
                AgentJob.not_before <= now,
                AgentJob.expires_at > now,
                AgentJob.attempts < AgentJob.max_attempts,
            )
            .order_by(AgentJob.created_at, AgentJob.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("ready")
        )
        leased = await self._session.scalars(
            update(AgentJob)
            .where(AgentJob.tenant_id == ready.c.tenant_id, AgentJob.id == ready.c.id)
            .values(status="leased", attempts=AgentJob.attempts + 1, lease_expires_at=now + lease)
            .returning(AgentJob)
            .execution_options(**NO_SYNC)
        )
        return sorted(leased, key=lambda job: (job.created_at, str(job.id)))

    async def finish(
        self,
        database_id: uuid.UUID,
        job_id: uuid.UUID,
        *,
        status: str,
        result: dict[str, Any] | None,
        error: str | None,
    ) -> bool:
        """Records the one answer of a leased job; False when the job is not (or no longer) leased."""
        finished = await self._session.scalar(
            update(AgentJob)
            .where(*self._of(database_id), AgentJob.id == job_id, AgentJob.status == "leased")
            .values(status=status, result=result, error=error, finished_at=func.now(), lease_expires_at=None)
            .returning(AgentJob.id)
            .execution_options(**NO_SYNC)
        )
        return finished is not None

    async def renew_lease(
        self, database_id: uuid.UUID, job_id: uuid.UUID, lease: timedelta
    ) -> datetime | None:
        """Extends a leased job's lease to `lease` from now; None when the job is not leased."""
        renewed: datetime | None = await self._session.scalar(
            update(AgentJob)
            .where(*self._of(database_id), AgentJob.id == job_id, AgentJob.status == "leased")
            .values(lease_expires_at=func.now() + lease)
            .returning(AgentJob.lease_expires_at)
            .execution_options(**NO_SYNC)
        )
        return renewed
