"""Workload reads. Aggregation happens in PostgreSQL over the partitioned time series."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Float, cast, desc, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.models import Plan, Statement, StatementStat
from control_plane.tenancy.context import TenantContext

_COLUMN_FOR_ORDER = {"total_time": "total", "mean_time": "mean", "calls": "calls"}


class QueryRepository:
    def __init__(self, session: AsyncSession, context: TenantContext, database_id: uuid.UUID) -> None:
        self._session = session
        self._tenant_id = context.tenant_id
        self._database_id = database_id

    def _in_range(self, since: datetime, until: datetime) -> list[Any]:
        return [
            StatementStat.tenant_id == self._tenant_id,
            StatementStat.database_id == self._database_id,
            StatementStat.collected_at >= since,
            StatementStat.collected_at <= until,
        ]

    async def top(self, since: datetime, until: datetime, order_by: str, limit: int) -> list[dict[str, Any]]:
        calls = func.sum(StatementStat.calls)
        total = func.sum(StatementStat.total_exec_time_ms)
        mean = total / func.nullif(cast(calls, Float), 0)
        grand_total = func.sum(total).over()
        orderings: dict[str, ColumnElement[Any]] = {"total_time": total, "mean_time": mean, "calls": calls}
        ordering = orderings[order_by]
        per_statement = (
            select(
                StatementStat.fingerprint.label("fingerprint"),
                calls.label("calls"),
                total.label("total"),
                func.coalesce(mean, 0.0).label("mean"),
                func.coalesce(100.0 * total / func.nullif(grand_total, 0), 0.0).label("load_pct"),
            )
            .where(*self._in_range(since, until))
            .group_by(StatementStat.fingerprint)
            .order_by(desc(ordering).nulls_last(), StatementStat.fingerprint)
            .limit(limit)
            .subquery()
        )
        rows = await self._session.execute(
            select(per_statement, Statement.query)
            .join(
                Statement,
                (Statement.tenant_id == self._tenant_id)
                & (Statement.database_id == self._database_id)
                & (Statement.fingerprint == per_statement.c.fingerprint),
            )
            .order_by(desc(per_statement.c[_COLUMN_FOR_ORDER[order_by]]), per_statement.c.fingerprint)
        )  # fmt: skip
        return [dict(row._mapping) for row in rows]

    async def statement(self, fingerprint: str) -> Statement | None:
        return await self._session.scalar(
            select(Statement).where(
                Statement.tenant_id == self._tenant_id,
                Statement.database_id == self._database_id,
                Statement.fingerprint == fingerprint,
            )
        )

    async def series(self, fingerprint: str, since: datetime, until: datetime) -> list[StatementStat]:
        rows = await self._session.scalars(
            select(StatementStat)
            .where(*self._in_range(since, until), StatementStat.fingerprint == fingerprint)
            .order_by(StatementStat.collected_at)
        )
        return list(rows)

    async def latest_plan(self, fingerprint: str) -> Plan | None:
        return await self._session.scalar(
            select(Plan).where(
                Plan.tenant_id == self._tenant_id,
                Plan.database_id == self._database_id,
                Plan.fingerprint == fingerprint,
            )
        )
