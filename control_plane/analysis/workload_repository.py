"""What an analysis reads about a database: workload figures, statements, plans, schema, settings,
and the baselines of earlier analyses. Every statement is tenant-scoped; nothing here writes.

Workload figures come from the hourly rollups over the analysis window, so a run costs one grouped
read of a day's rollups however many snapshots arrived; a statement's share of load is its total
time over everyone's in the same window.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.analysis.context import WorkloadFigures
from control_plane.models import (
    AnalysedStatement,
    DatabaseSchema,
    Plan,
    Recommendation,
    Snapshot,
    Statement,
    StatementRollup,
)
from control_plane.tenancy.context import TenantContext

_FIGURES = ("calls", "rows", "temp_blks_read", "temp_blks_written", "shared_blks_hit", "shared_blks_read")


class WorkloadRepository:
    def __init__(self, session: AsyncSession, context: TenantContext, database_id: uuid.UUID) -> None:
        self._session = session
        self._tenant_id = context.tenant_id
        self._database_id = database_id

    async def figures(
        self, since: datetime, fingerprints: list[str] | None, limit: int
    ) -> dict[str, WorkloadFigures]:
        """Per statement: counters summed since `since` and share of load; the `limit` busiest, or
        the given fingerprints."""
        total = func.sum(StatementRollup.total_exec_time_ms)
        sums = (
            select(
                StatementRollup.fingerprint,
                total.label("total_ms"),
                (100.0 * total / func.nullif(func.sum(total).over(), 0)).label("load_pct"),
                *(func.sum(getattr(StatementRollup, name)).label(name) for name in _FIGURES),
            )
            .where(
                StatementRollup.tenant_id == self._tenant_id,
                StatementRollup.database_id == self._database_id,
                StatementRollup.bucket >= since,
            )
            .group_by(StatementRollup.fingerprint)
            .subquery()
        )
        query = select(sums)
        if fingerprints is not None:
            query = query.where(sums.c.fingerprint.in_(fingerprints))
        rows = await self._session.execute(
            query.order_by(sums.c.total_ms.desc(), sums.c.fingerprint).limit(limit)
        )
        return {
            row.fingerprint: WorkloadFigures(
                calls=int(row.calls or 0),
                total_ms=float(row.total_ms or 0.0),
                load_pct=float(row.load_pct or 0.0),
                **{name: int(getattr(row, name) or 0) for name in _FIGURES if name != "calls"},
            )
            for row in rows
        }

    async def statements(self, fingerprints: list[str]) -> list[Statement]:
        rows = await self._session.scalars(
            select(Statement).where(
                Statement.tenant_id == self._tenant_id,
                Statement.database_id == self._database_id,
                Statement.fingerprint.in_(fingerprints),
            )
        )
        return list(rows)

    async def plans(self, fingerprints: list[str] | None = None) -> dict[str, Plan]:
        query = select(Plan).where(Plan.tenant_id == self._tenant_id, Plan.database_id == self._database_id)
        if fingerprints is not None:
            query = query.where(Plan.fingerprint.in_(fingerprints))
        return {plan.fingerprint: plan for plan in await self._session.scalars(query)}

    async def schema(self) -> DatabaseSchema | None:
        return await self._session.scalar(
            select(DatabaseSchema).where(
                DatabaseSchema.tenant_id == self._tenant_id, DatabaseSchema.database_id == self._database_id
            )
        )

    async def latest_settings(self) -> dict[str, str]:
        """The server settings of the latest snapshot (snapshots store them with the server info)."""
        server: dict[str, Any] | None = await self._session.scalar(
            select(Snapshot.server)
            .where(Snapshot.tenant_id == self._tenant_id, Snapshot.database_id == self._database_id)
            .order_by(Snapshot.collected_at.desc())
            .limit(1)
        )
        settings = (server or {}).get("settings") or {}
        return {str(k): str(v) for k, v in settings.items()}

    async def baselines(self, fingerprints: list[str] | None = None) -> dict[str, AnalysedStatement]:
        query = select(AnalysedStatement).where(
            AnalysedStatement.tenant_id == self._tenant_id, AnalysedStatement.database_id == self._database_id
        )
        if fingerprints is not None:
            query = query.where(AnalysedStatement.fingerprint.in_(fingerprints))
        return {row.fingerprint: row for row in await self._session.scalars(query)}

    async def explanation(self, fingerprint: str) -> str | None:
        return await self._session.scalar(
            select(AnalysedStatement.explanation).where(
                AnalysedStatement.tenant_id == self._tenant_id,
                AnalysedStatement.database_id == self._database_id,
                AnalysedStatement.fingerprint == fingerprint,
            )
        )

    async def index_recommendations(self) -> set[tuple[str, tuple[str, ...]]]:
        """(table, columns) of every index already recommended, from any source, in any status."""
        rows = await self._session.execute(
            select(Recommendation.table_name, Recommendation.columns).where(
                Recommendation.tenant_id == self._tenant_id,
                Recommendation.database_id == self._database_id,
                Recommendation.kind == "create_index",
            )
        )
        return {(row.table_name, tuple(row.columns)) for row in rows if row.table_name}

    async def agent_findings(self) -> int:
        found = await self._session.scalar(
            select(func.count()).where(
                Recommendation.tenant_id == self._tenant_id,
                Recommendation.database_id == self._database_id,
                Recommendation.source == "agent",
            )
        )
        return int(found or 0)
