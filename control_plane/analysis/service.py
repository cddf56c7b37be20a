"""People's side of analysis: request a run, read runs with their notices and suggestions, and the
explanation a query detail shows. Services never commit: the request's dependency owns the transaction."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.analysis.runs_repository import AnalysisRunRepository
from control_plane.analysis.schemas import AnalysisRunOut, SuggestionOut
from control_plane.analysis.suggestions_repository import SuggestionRepository
from control_plane.analysis.workload_repository import WorkloadRepository
from control_plane.api.errors import NotFound
from control_plane.auth.permissions import ensure_permission
from control_plane.databases.service import tenant_database
from control_plane.models import AnalysisRun, AnalysisSuggestion
from control_plane.settings import Settings
from control_plane.tenancy.context import TenantContext


def suggestion_out(row: AnalysisSuggestion) -> SuggestionOut:
    return SuggestionOut(
        id=row.id,
        fingerprint=row.fingerprint,
        source=row.source,
        kind=row.kind,
        status=row.status,
        table=row.table_name,
        columns=list(row.columns),
        sql=row.sql,
        cost_before=row.cost_before,
        cost_after=row.cost_after,
        improvement_pct=row.improvement_pct,
        reason=row.reason,
        job_id=row.job_id,
        recommendation_id=row.recommendation_id,
    )


def run_out(run: AnalysisRun, suggestions: list[AnalysisSuggestion] | None = None) -> AnalysisRunOut:
    return AnalysisRunOut(
        id=run.id,
        database_id=run.database_id,
        trigger=run.trigger,
        status=run.status,
        fingerprints=list(run.fingerprints),
        attempts=run.attempts,
        notices=list(run.notices),
        dropped=list(run.dropped),
        summary=dict(run.summary),
        error=run.error,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        suggestions=[suggestion_out(s) for s in suggestions or []],
    )


class AnalysisService:
    def __init__(self, session: AsyncSession, context: TenantContext, settings: Settings) -> None:
        self._session = session
        self._context = context
        self._settings = settings
        self._runs = AnalysisRunRepository(session, context)
        self._suggestions = SuggestionRepository(session, context)

    async def request(self, database_id: uuid.UUID, fingerprints: list[str]) -> AnalysisRun:
        # Another tenant's database is a 404 before the role is checked.
        await tenant_database(self._session, self._context, database_id)
        ensure_permission(self._context, "analysis.run")
        return await self._runs.add(
            database_id,
            trigger="manual",
            fingerprints=list(dict.fromkeys(fingerprints)),
            max_attempts=self._settings.analysis_max_attempts,
            requested_by=self._context.user_id,
        )

    async def get(self, database_id: uuid.UUID, run_id: uuid.UUID) -> AnalysisRunOut:
        await tenant_database(self._session, self._context, database_id)
        run = await self._runs.get(database_id, run_id)
        if run is None:
            raise NotFound("analysis run not found")
        return run_out(run, await self._suggestions.of_run(run.id))

    async def recent(self, database_id: uuid.UUID, limit: int) -> list[AnalysisRunOut]:
        await tenant_database(self._session, self._context, database_id)
        return [run_out(run) for run in await self._runs.recent(database_id, limit)]


async def explanation_for(
    session: AsyncSession, context: TenantContext, database_id: uuid.UUID, fingerprint: str
) -> str | None:
    """The statement's latest plain-English explanation; None until it has been analysed."""
    return await WorkloadRepository(session, context, database_id).explanation(fingerprint)
