"""The analysis_runs queue and the snapshot watches that feed it. Every statement is tenant-scoped,
except `pending_work`, which asks the one cross-tenant question the worker needs (see migration 0005).

Leasing takes its row `FOR UPDATE SKIP LOCKED`: two replicas never take the same run, and neither
waits for the other. A lease carries the attempt number, and a run is finished only by the holder
of its latest attempt, so a replica that lost its lease cannot overwrite the one that took over.
Every time comparison uses the metadata database's `now()`, the clock all replicas share.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.models import AnalysisRun, AnalysisWatch
from control_plane.models.analysis_run import RUN_UNFINISHED
from control_plane.tenancy.context import TenantContext

NO_SYNC = {"synchronize_session": False}
_PENDING_WORK = text("SELECT tenant_id, database_id FROM optischema_analysis_work(:limit)")


async def pending_work(lookup: AsyncSession, limit: int) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(tenant, database) pairs with a run to take or a snapshot to check, oldest first (lookup session)."""
    rows = await lookup.execute(_PENDING_WORK, {"limit": limit})
    return [(row.tenant_id, row.database_id) for row in rows]


class AnalysisRunRepository:
    def __init__(self, session: AsyncSession, context: TenantContext) -> None:
        self._session = session
        self._tenant_id = context.tenant_id

    def _of(self, database_id: uuid.UUID) -> list[Any]:
        return [AnalysisRun.tenant_id == self._tenant_id, AnalysisRun.database_id == database_id]

    async def add(
        self,
        database_id: uuid.UUID,
        *,
        trigger: str,
        fingerprints: list[str],
        max_attempts: int,
        requested_by: uuid.UUID | None = None,
    ) -> AnalysisRun:
        run = AnalysisRun(
            tenant_id=self._tenant_id,
            id=uuid.uuid4(),
            database_id=database_id,
            trigger=trigger,
            status="queued",
            fingerprints=fingerprints,
            requested_by=requested_by,
            attempts=0,
            max_attempts=max_attempts,
        )
        self._session.add(run)
        await self._session.flush()
        await self._session.refresh(run)
        return run

    async def get(self, database_id: uuid.UUID, run_id: uuid.UUID) -> AnalysisRun | None:
        return await self._session.scalar(
            select(AnalysisRun).where(*self._of(database_id), AnalysisRun.id == run_id)
        )

    async def recent(self, database_id: uuid.UUID, limit: int) -> list[AnalysisRun]:
        rows = await self._session.scalars(
            select(AnalysisRun)
            .where(*self._of(database_id))
            .order_by(AnalysisRun.created_at.desc(), AnalysisRun.id)
            .limit(limit)
        )
        return list(rows)

    async def has_unfinished(self, database_id: uuid.UUID) -> bool:
        found = await self._session.scalar(
            select(AnalysisRun.id)
            .where(*self._of(database_id), AnalysisRun.status.in_(RUN_UNFINISHED))
            .limit(1)
        )
        return found is not None

    async def auto_runs_since(self, database_id: uuid.UUID, since: timedelta) -> tuple[int, datetime | None]:
        """How many automatic runs were queued within `since`, and when the latest one was."""
        row = (
            await self._session.execute(
                select(func.count(), func.max(AnalysisRun.created_at)).where(
                    *self._of(database_id),
                    AnalysisRun.trigger == "auto",
                    AnalysisRun.created_at > func.now() - since,
                )
            )
        ).one()
        return int(row[0]), row[1]

    async def now(self) -> datetime:
        found: datetime = await self._session.scalar(select(func.now()))  # type: ignore[assignment]
        return found

    async def fail_exhausted(self, database_id: uuid.UUID) -> None:
        """Runs whose every lease ran out without an answer: failed, so nobody takes them again."""
        await self._session.execute(
            update(AnalysisRun)
            .where(
                *self._of(database_id),
                AnalysisRun.status == "running",
                AnalysisRun.lease_expires_at <= func.now(),
                AnalysisRun.attempts >= AnalysisRun.max_attempts,
            )
            .values(
                status="failed",
                error=func.concat("no result after ", AnalysisRun.attempts, " attempts"),
                finished_at=func.now(),
                lease_expires_at=None,
            )
            .execution_options(**NO_SYNC)
        )

    async def lease_next(self, database_id: uuid.UUID, lease: timedelta) -> AnalysisRun | None:
        """The oldest ready run of the database, leased to the caller (attempts + 1), or None."""
        now = func.now()
        ready = (
            select(AnalysisRun.tenant_id, AnalysisRun.id)
            .where(
                *self._of(database_id),
                (AnalysisRun.status == "queued")
                | ((AnalysisRun.status == "running") & (AnalysisRun.lease_expires_at <= now)),
                AnalysisRun.attempts < AnalysisRun.max_attempts,
            )
            .order_by(AnalysisRun.created_at, AnalysisRun.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .cte("ready")
        )
        return await self._session.scalar(
            update(AnalysisRun)
            .where(AnalysisRun.tenant_id == ready.c.tenant_id, AnalysisRun.id == ready.c.id)
            .values(
                status="running",
                attempts=AnalysisRun.attempts + 1,
                lease_expires_at=now + lease,
                started_at=func.coalesce(AnalysisRun.started_at, now),
            )
            .returning(AnalysisRun)
            .execution_options(**NO_SYNC)
        )

    async def finish(
        self,
        database_id: uuid.UUID,
        run_id: uuid.UUID,
        attempt: int,
        *,
        status: str,
        notices: list[str],
        dropped: list[dict[str, Any]],
        summary: dict[str, Any],
        error: str | None = None,
    ) -> bool:
        """Records the outcome; False when the caller's lease was lost (another attempt took the run)."""
        finished = await self._session.scalar(
            update(AnalysisRun)
            .where(
                *self._of(database_id),
                AnalysisRun.id == run_id,
                AnalysisRun.status == "running",
                AnalysisRun.attempts == attempt,
            )
            .values(
                status=status,
                notices=notices,
                dropped=dropped,
                summary=summary,
                error=error,
                finished_at=func.now(),
                lease_expires_at=None,
            )
            .returning(AnalysisRun.id)
            .execution_options(**NO_SYNC)
        )
        return finished is not None


class AnalysisWatchRepository:
    def __init__(self, session: AsyncSession, context: TenantContext) -> None:
        self._session = session
        self._tenant_id = context.tenant_id

    async def snapshot_stored(self, database_id: uuid.UUID) -> None:
        upsert = insert(AnalysisWatch).values(tenant_id=self._tenant_id, database_id=database_id)
        await self._session.execute(
            upsert.on_conflict_do_update(
                index_elements=[AnalysisWatch.tenant_id, AnalysisWatch.database_id],
                set_={"snapshot_at": func.now()},
            )
        )

    async def last_checked(self, database_id: uuid.UUID) -> datetime | None:
        """When the database's snapshots were last checked for changes (None: never)."""
        found: datetime | None = await self._session.scalar(
            select(AnalysisWatch.checked_at).where(
                AnalysisWatch.tenant_id == self._tenant_id, AnalysisWatch.database_id == database_id
            )
        )
        return found

    async def checked(self, database_id: uuid.UUID, at: datetime) -> None:
        """Checked up to `at` (the time the check began): a snapshot stored meanwhile stays pending."""
        await self._session.execute(
            update(AnalysisWatch)
            .where(AnalysisWatch.tenant_id == self._tenant_id, AnalysisWatch.database_id == database_id)
            .values(checked_at=at)
        )
