"""Recommendations as changes: lifecycle moves, the statement counters around an apply, exports.

Every statement is tenant-scoped. Lifecycle moves are conditional UPDATEs (see lifecycle.py), so
a move that lost a race returns None instead of overwriting the winner.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, func, literal_column, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.changes.lifecycle import Transition
from control_plane.models import MonitoredDatabase, Recommendation, Snapshot, StatementStat
from control_plane.queries.intervals import intervals_between
from control_plane.tenancy.context import TenantContext

MOVED = {"synchronize_session": False, "populate_existing": True}
EXPORTED_STATUSES = ("approved", "applying", "applied")
# (fingerprint, calls, total_exec_time_ms, shared_blks_read) over one window
WindowSums = Row[str, int, float, int]


class ChangeRepository:
    def __init__(self, session: AsyncSession, context: TenantContext) -> None:
        self._session = session
        self._tenant_id = context.tenant_id

    def _one(self, recommendation_id: uuid.UUID) -> list[ColumnElement[bool]]:
        return [Recommendation.tenant_id == self._tenant_id, Recommendation.id == recommendation_id]

    async def now(self) -> datetime:
        found: datetime = await self._session.scalar(select(func.now()))  # type: ignore[assignment]
        return found

    async def get(self, recommendation_id: uuid.UUID) -> Recommendation | None:
        return await self._session.scalar(select(Recommendation).where(*self._one(recommendation_id)))

    async def transition(
        self,
        recommendation_id: uuid.UUID,
        move: Transition,
        *,
        where: Sequence[ColumnElement[bool]] = (),
        values: dict[str, Any] | None = None,
    ) -> Recommendation | None:
        """Moves the recommendation when its status is one of the move's sources (and `where`
        holds); None when it is not: someone else moved it first, or it never could."""
        return await self._session.scalar(
            update(Recommendation)
            .where(*self._one(recommendation_id), Recommendation.status.in_(move.sources), *where)
            .values(status=move.target, updated_at=func.now(), **(values or {}))
            .returning(Recommendation)
            .execution_options(**MOVED)
        )

    async def open_index_ideas(self, database_id: uuid.UUID) -> list[Recommendation]:
        """The database's still-`proposed` index recommendations (candidates to supersede)."""
        rows = await self._session.scalars(
            select(Recommendation)
            .where(
                Recommendation.tenant_id == self._tenant_id,
                Recommendation.database_id == database_id,
                Recommendation.status == "proposed",
                Recommendation.kind == "create_index",
            )
            .order_by(Recommendation.id)
        )
        return list(rows)

    async def superseded_by(self, recommendation_id: uuid.UUID) -> list[Recommendation]:
        rows = await self._session.scalars(
            select(Recommendation)
            .where(
                Recommendation.tenant_id == self._tenant_id,
                Recommendation.status == "superseded",
                Recommendation.superseded_by == recommendation_id,
            )
            .order_by(Recommendation.id)
        )
        return list(rows)

    async def set_values(self, recommendation_id: uuid.UUID, **values: Any) -> None:
        await self._session.execute(
            update(Recommendation)
            .where(*self._one(recommendation_id))
            .values(**values)
            .execution_options(synchronize_session=False)
        )

    async def cache_lint(self, recommendation_id: uuid.UUID, sql: str, findings: list[Any]) -> None:
        """Caches findings for exactly this SQL: a refresh that changed the SQL in between wins."""
        await self._session.execute(
            update(Recommendation)
            .where(*self._one(recommendation_id), Recommendation.sql == sql)
            .values(lint=findings)
            .execution_options(synchronize_session=False)
        )

    async def set_maintenance_window(self, database_id: uuid.UUID, window: dict[str, Any] | None) -> None:
        await self._session.execute(
            update(MonitoredDatabase)
            .where(MonitoredDatabase.tenant_id == self._tenant_id, MonitoredDatabase.id == database_id)
            .values(maintenance_window=window)
            .execution_options(synchronize_session=False)
        )

    async def exported(self, database_id: uuid.UUID) -> list[Recommendation]:
        """Approved and applied changes of the database, in the order they were approved."""
        rows = await self._session.scalars(
            select(Recommendation)
            .where(
                Recommendation.tenant_id == self._tenant_id,
                Recommendation.database_id == database_id,
                Recommendation.status.in_(EXPORTED_STATUSES),
            )
            .order_by(Recommendation.approved_at.nulls_last(), Recommendation.id)
        )
        return list(rows)

    async def awaiting_measurement(self, applied_before: datetime, limit: int) -> list[Recommendation]:
        """Applied changes whose after-window has passed and that have no verdict yet."""
        rows = await self._session.scalars(
            select(Recommendation)
            .where(
                Recommendation.tenant_id == self._tenant_id,
                Recommendation.status == "applied",
                Recommendation.measured_at.is_(None),
                Recommendation.applied_at <= applied_before,
            )
            .order_by(Recommendation.applied_at, Recommendation.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(rows)

    async def window_sums(
        self, database_id: uuid.UUID, fingerprints: Sequence[str], since: datetime, until: datetime
    ) -> dict[str, tuple[int, float, int]]:
        """Per statement: calls, execution time and shared blocks read of the intervals that lie
        wholly inside [since, until]; an interval straddling `since` mixes before and after, and the
        first snapshot of an agent (no interval length: counters since the last reset) is left out."""
        started = StatementStat.collected_at - StatementStat.interval_seconds * literal_column(
            "interval '1 second'"
        )
        rows = await self._session.execute(
            select(
                StatementStat.fingerprint,
                func.sum(StatementStat.calls),
                func.sum(StatementStat.total_exec_time_ms),
                func.sum(StatementStat.shared_blks_read),
            )
            .where(
                *intervals_between(
                    self._tenant_id,
                    database_id,
                    since,
                    until,
                    since_open=True,
                    of_snapshots=[Snapshot.interval_seconds.is_not(None)],
                ),
                StatementStat.fingerprint.in_(list(fingerprints)),
                StatementStat.interval_seconds.is_not(None),
                started >= since,
            )
            .group_by(StatementStat.fingerprint)
        )
        return {row[0]: (int(row[1] or 0), float(row[2] or 0.0), int(row[3] or 0)) for row in rows}


async def tenants_awaiting_measurement(session: AsyncSession) -> list[uuid.UUID]:
    """From a lookup session: the tenants with applied changes not measured yet (ids only)."""
    rows = await session.scalars(text("SELECT optischema_tenants_awaiting_measurement()"))
    return list(rows)
