"""Suggestions waiting for their proof, and the per-statement analysis record. Tenant-scoped."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.models import AnalysedStatement, AnalysisSuggestion, Recommendation
from control_plane.tenancy.context import TenantContext


class SuggestionRepository:
    def __init__(self, session: AsyncSession, context: TenantContext) -> None:
        self._session = session
        self._tenant_id = context.tenant_id

    async def add(self, database_id: uuid.UUID, run_id: uuid.UUID, **values: Any) -> AnalysisSuggestion:
        suggestion = AnalysisSuggestion(
            tenant_id=self._tenant_id, id=uuid.uuid4(), database_id=database_id, run_id=run_id, **values
        )
        self._session.add(suggestion)
        await self._session.flush()
        return suggestion

    async def attach_job(self, suggestion_id: uuid.UUID, job_id: uuid.UUID) -> None:
        await self._session.execute(
            update(AnalysisSuggestion)
            .where(AnalysisSuggestion.tenant_id == self._tenant_id, AnalysisSuggestion.id == suggestion_id)
            .values(job_id=job_id)
            .execution_options(synchronize_session=False)
        )

    async def waiting_for(self, job_id: uuid.UUID) -> AnalysisSuggestion | None:
        """The pending suggestion the job proves, locked: one answer settles it once."""
        return await self._session.scalar(
            select(AnalysisSuggestion)
            .where(
                AnalysisSuggestion.tenant_id == self._tenant_id,
                AnalysisSuggestion.job_id == job_id,
                AnalysisSuggestion.status == "pending",
            )
            .with_for_update()
        )

    async def settle(self, suggestion_id: uuid.UUID, **values: Any) -> None:
        await self._session.execute(
            update(AnalysisSuggestion)
            .where(AnalysisSuggestion.tenant_id == self._tenant_id, AnalysisSuggestion.id == suggestion_id)
            .values(**values, updated_at=func.now())
            .execution_options(synchronize_session=False)
        )

    async def recommendation_id(self, database_id: uuid.UUID, stable_key: str) -> uuid.UUID | None:
        return await self._session.scalar(
            select(Recommendation.id).where(
                Recommendation.tenant_id == self._tenant_id,
                Recommendation.database_id == database_id,
                Recommendation.stable_key == stable_key,
            )
        )

    async def of_run(self, run_id: uuid.UUID) -> list[AnalysisSuggestion]:
        rows = await self._session.scalars(
            select(AnalysisSuggestion)
            .where(AnalysisSuggestion.tenant_id == self._tenant_id, AnalysisSuggestion.run_id == run_id)
            .order_by(AnalysisSuggestion.created_at, AnalysisSuggestion.id)
        )
        return list(rows)

    async def record_statement(self, database_id: uuid.UUID, **values: Any) -> None:
        """The statement's explanation and the plan cost and load it was analysed at."""
        upsert = insert(AnalysedStatement).values(
            tenant_id=self._tenant_id, database_id=database_id, **values
        )
        await self._session.execute(
            upsert.on_conflict_do_update(
                index_elements=[
                    AnalysedStatement.tenant_id,
                    AnalysedStatement.database_id,
                    AnalysedStatement.fingerprint,
                ],
                set_={
                    **{name: upsert.excluded[name] for name in values if name != "fingerprint"},
                    "analysed_at": func.now(),
                },
            )
        )
