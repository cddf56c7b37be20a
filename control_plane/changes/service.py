"""People's decisions on recommendations: review (with squawk's findings), approve, reject, roll back.

Services never commit: the request's dependency owns the transaction, so a move, its job, its
audit record and its notifications commit together or not at all. Another tenant's recommendation
is a 404 before any role is checked.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.api.errors import Conflict, NotFound
from control_plane.audit.repository import AuditRepository
from control_plane.auth.permissions import ensure_permission
from control_plane.changes.lifecycle import (
    APPROVE,
    REJECT,
    REQUEST_ROLLBACK,
    NotApplicable,
    Transition,
    ensure_applicable,
    ensure_rollback_possible,
)
from control_plane.changes.lint import lint_sql
from control_plane.changes.maintenance_window import MaintenanceWindow, stored_window
from control_plane.changes.repository import ChangeRepository
from control_plane.changes.trail import record_move
from control_plane.databases.service import tenant_database
from control_plane.index_health.service import IndexHealthService
from control_plane.jobs.service import enqueue_job
from control_plane.models import AgentJob, MonitoredDatabase, Recommendation
from control_plane.settings import Settings
from control_plane.tenancy.context import TenantContext
from shared.sql.ddl_allow_list import AllowedDdl, DdlRefused, admit_ddl
from shared.wire.jobs import ChangePayload


def admitted_change(sql: str | None, what: str) -> AllowedDdl:
    """The statement a job would carry, checked with the agent's own allow-list before it is queued.

    The agent refuses any other statement anyway (signed or not); refusing here says why to the person
    who clicked, before a job, an audit record and a status move exist for a change that cannot run.
    """
    try:
        return admit_ddl(sql or "")
    except DdlRefused as refused:
        raise Conflict(f"the {what} SQL is not a change the agent may run: {refused}") from None


def change_payload(recommendation: Recommendation, sql: str, change: AllowedDdl) -> ChangePayload:
    """The job's payload: `sql` as approved, and the index name the allow-list read from it (`change`),
    as the catalog spells it (quoted names as written, unquoted ones folded)."""
    table = recommendation.table_name
    if not (table and "." in table) and change.schema is not None and change.table is not None:
        table = f"{change.schema}.{change.table}"
    return ChangePayload(
        recommendation_id=recommendation.id,
        sql=sql,
        table=table if table and "." in table else None,
        index_name=change.index_name,
        estimated_size_bytes=None,
    )


class ChangeService:
    def __init__(self, session: AsyncSession, context: TenantContext, settings: Settings) -> None:
        self._session = session
        self._context = context
        self._settings = settings
        self._changes = ChangeRepository(session, context)

    async def now(self) -> datetime:
        return await self._changes.now()

    async def found(self, recommendation_id: uuid.UUID) -> Recommendation:
        recommendation = await self._changes.get(recommendation_id)
        if recommendation is None:
            raise NotFound("recommendation not found")
        return recommendation

    async def linted(self, recommendation: Recommendation) -> list[dict[str, Any]]:
        """squawk's findings on the recommendation's SQL, run once per SQL text and cached."""
        if recommendation.lint is None:
            findings = await lint_sql(
                recommendation.sql,
                excluded_rules=self._settings.squawk_excluded_rules,
                timeout_s=self._settings.squawk_timeout_s,
            )
            await self._changes.cache_lint(recommendation.id, recommendation.sql, list(findings))
            recommendation.lint = list(findings)  # type: ignore[arg-type]
        return list(recommendation.lint)

    async def review(self, recommendation_id: uuid.UUID) -> Recommendation:
        recommendation = await self.found(recommendation_id)
        await self.linted(recommendation)
        return recommendation

    def _refused(self, move: Transition, current: Recommendation) -> Conflict:
        return Conflict(move.refusal(current.status))

    async def approve(
        self, recommendation_id: uuid.UUID, not_before: datetime | None
    ) -> tuple[Recommendation, AgentJob]:
        recommendation = await self.found(recommendation_id)
        ensure_permission(self._context, "recommendation.approve")
        if recommendation.status == "superseded":
            # status_reason names the applied index (control_plane.changes.supersede): a person
            # reads which index makes this one redundant, not only the other recommendation's id.
            raise Conflict(
                f"the recommendation is {recommendation.status_reason or 'superseded'} (recommendation "
                f"{recommendation.superseded_by}, which was applied); rolling that one back reopens this one"
            )
        try:
            ensure_applicable(recommendation)
        except NotApplicable as error:
            raise Conflict(str(error)) from None
        if recommendation.kind == "drop_index":
            refusal = await IndexHealthService(self._session, self._context).drop_refusal(recommendation)
            if refusal is not None:
                raise Conflict(refusal)
        change = admitted_change(recommendation.sql, "recommendation's")
        findings = await self.linted(recommendation)
        status_before = recommendation.status
        now = await self._changes.now()
        approved = await self._changes.transition(
            recommendation_id,
            APPROVE,
            values={
                "approved_by": f"user:{self._context.user_id}",
                "approved_at": now,
                "status_reason": None,
                "applied_at": None,
            },
        )
        if approved is None:  # moved by someone else meanwhile (we waited for their row lock)
            raise self._refused(APPROVE, await self.found(recommendation_id))
        if not_before is not None and not_before.tzinfo is None:
            not_before = not_before.replace(tzinfo=UTC)
        waits = max(timedelta(0), not_before - now) if not_before is not None else timedelta(0)
        job = await enqueue_job(
            self._session,
            self._context,
            approved.database_id,
            "apply",
            change_payload(approved, approved.sql, change),
            expires_in=timedelta(seconds=self._settings.change_job_expiry_s) + waits,
            max_attempts=self._settings.job_max_attempts,
            not_before=not_before,
            recommendation_id=approved.id,
        )
        await self._changes.set_values(approved.id, change_job_id=job.id)
        approved.change_job_id = job.id
        await record_move(
            self._session,
            self._context,
            APPROVE,
            approved,
            {
                "job_id": str(job.id),
                "from": status_before,
                "not_before": not_before.isoformat() if not_before else None,
                "lint": [finding["rule"] for finding in findings],
            },
        )
        return approved, job

    async def reject(self, recommendation_id: uuid.UUID, reason: str | None) -> Recommendation:
        recommendation = await self.found(recommendation_id)
        ensure_permission(self._context, "recommendation.reject")
        rejected = await self._changes.transition(recommendation_id, REJECT, values={"status_reason": reason})
        if rejected is None:
            raise self._refused(REJECT, await self.found(recommendation_id))
        await record_move(
            self._session, self._context, REJECT, rejected, {"reason": reason, "from": recommendation.status}
        )
        return rejected

    async def rollback(self, recommendation_id: uuid.UUID) -> tuple[Recommendation, AgentJob]:
        recommendation = await self.found(recommendation_id)
        ensure_permission(self._context, "recommendation.rollback")
        try:
            ensure_rollback_possible(recommendation)
        except NotApplicable as error:
            raise Conflict(str(error)) from None
        change = admitted_change(recommendation.rollback_sql, "rollback")
        job = await enqueue_job(
            self._session,
            self._context,
            recommendation.database_id,
            "rollback",
            change_payload(recommendation, recommendation.rollback_sql or "", change),
            expires_in=timedelta(seconds=self._settings.change_job_expiry_s),
            max_attempts=self._settings.job_max_attempts,
            recommendation_id=recommendation.id,
        )
        # Conditional on no rollback in flight: of two at once, the loser's 409 rolls back its job too.
        queued = await self._changes.transition(
            recommendation_id,
            REQUEST_ROLLBACK,
            where=[Recommendation.rollback_job_id.is_(None)],
            values={"rollback_job_id": job.id},
        )
        if queued is None:
            current = await self.found(recommendation_id)
            if current.status == "applied":
                raise Conflict("a rollback of this recommendation is already queued")
            raise self._refused(REQUEST_ROLLBACK, current)
        await record_move(self._session, self._context, REQUEST_ROLLBACK, queued, {"job_id": str(job.id)})
        return queued, job

    async def maintenance_window(self, database_id: uuid.UUID) -> MaintenanceWindow | None:
        database = await tenant_database(self._session, self._context, database_id)
        ensure_permission(self._context, "maintenance_window.manage")
        return stored_window(database.maintenance_window)

    async def set_maintenance_window(
        self, database_id: uuid.UUID, window: MaintenanceWindow | None
    ) -> MaintenanceWindow | None:
        await tenant_database(self._session, self._context, database_id)
        ensure_permission(self._context, "maintenance_window.manage")
        document = None if window is None else window.model_dump(mode="json")
        await self._changes.set_maintenance_window(database_id, document)
        await record_move_window(self._session, self._context, database_id, document)
        return window

    async def exported(self, database_id: uuid.UUID) -> tuple[MonitoredDatabase, list[Recommendation]]:
        database = await tenant_database(self._session, self._context, database_id)
        ensure_permission(self._context, "changes.export")
        return database, await self._changes.exported(database_id)


async def record_move_window(
    session: AsyncSession, context: TenantContext, database_id: uuid.UUID, window: dict[str, Any] | None
) -> None:
    await AuditRepository(session, context).record(
        f"user:{context.user_id}",
        "database.maintenance_window",
        f"database:{database_id}",
        {"window": window},
        actor_user_id=context.user_id,
    )
