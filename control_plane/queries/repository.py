"""Workload reads. Aggregation happens in PostgreSQL, over hourly rollups and the raw edge hours.

Top queries over [since, until] (both inclusive, on `collected_at`) reads the hours the range covers
whole from `statement_rollups`, and reads the raw `statement_stats` rows only for an edge hour the
range cuts through *and* that holds a snapshot outside the range. Whether it does is asked of
`snapshots` (one row per stored snapshot, indexed by time) in the same statement, so the answer and
the sums come from one MVCC snapshot: the result is exactly the sum of the raw rows in the range.
An edge hour read raw costs that hour's rows (found by `collected_at`), up to 120 snapshots' worth.
The default range (see the endpoint) starts on the hour and ends now, with nothing after it in its
hour: it reads no raw rows at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Row,
    Select,
    case,
    cast,
    desc,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.ingestion.repository import ROLLUP_BUCKET, rollup_bucket
from control_plane.models import Plan, Snapshot, Statement, StatementRollup, StatementStat
from control_plane.tenancy.context import TenantContext

__all__ = ["QueryRepository", "rollup_bucket"]
# at, interval_seconds, calls, total_exec_time_ms, rows, shared_blks_hit, shared_blks_read, temp_blks_written
SeriesRow = Row[datetime, float | None, int, float, int, int, int, int]
_SERIES_COLUMNS = (
    StatementStat.collected_at,
    StatementStat.interval_seconds,
    StatementStat.calls,
    StatementStat.total_exec_time_ms,
    StatementStat.rows,
    StatementStat.shared_blks_hit,
    StatementStat.shared_blks_read,
    StatementStat.temp_blks_written,
)


def _aware(at: datetime) -> datetime:
    """A time without an offset is UTC, as PostgreSQL reads it for a timestamptz parameter."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


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

    def _snapshot_between(self, *bounds: ColumnElement[bool]) -> ColumnElement[bool]:
        # Uncorrelated: PostgreSQL evaluates it once (an InitPlan), before it prunes or scans.
        return exists().where(
            Snapshot.tenant_id == self._tenant_id, Snapshot.database_id == self._database_id, *bounds
        )

    def _raw(self, since: datetime, until: datetime, *where: ColumnElement[bool]) -> Select[str, int, float]:
        return select(StatementStat.fingerprint, StatementStat.calls, StatementStat.total_exec_time_ms).where(
            *self._in_range(since, until), *where
        )

    def _counters_in_range(self, since: datetime, until: datetime) -> Any:
        """(fingerprint, calls, total) rows whose per-fingerprint sums are those of the raw rows."""
        first, last = rollup_bucket(since), rollup_bucket(until)
        after_first, after_last = first + ROLLUP_BUCKET, last + ROLLUP_BUCKET
        # An edge hour is read raw when the range leaves out one of its snapshots.
        first_cut: ColumnElement[bool] = (
            self._snapshot_between(Snapshot.collected_at >= first, Snapshot.collected_at < since)
            if since > first
            else false()
        )
        last_cut: ColumnElement[bool] = self._snapshot_between(
            Snapshot.collected_at > until, Snapshot.collected_at < after_last
        )
        if first == last:  # one hour: whole from the rollup, or raw
            first_cut = last_cut = or_(first_cut, last_cut)
        rollups = select(
            StatementRollup.fingerprint, StatementRollup.calls, StatementRollup.total_exec_time_ms
        ).where(
            StatementRollup.tenant_id == self._tenant_id,
            StatementRollup.database_id == self._database_id,
            StatementRollup.bucket >= case((first_cut, literal(after_first)), else_=literal(first)),
            StatementRollup.bucket <= case((last_cut, literal(last - ROLLUP_BUCKET)), else_=literal(last)),
        )
        raw = [self._raw(since, until, StatementStat.collected_at < after_first, first_cut)]
        if first != last:
            raw.append(self._raw(since, until, StatementStat.collected_at >= last, last_cut))
        return union_all(rollups, *raw).subquery("counters")

    async def top(self, since: datetime, until: datetime, order_by: str, limit: int) -> list[dict[str, Any]]:
        since, until = _aware(since), _aware(until)
        if since > until:
            return []
        counters = self._counters_in_range(since, until)
        calls = func.sum(counters.c.calls)
        total = func.sum(counters.c.total_exec_time_ms)
        orderings: dict[str, ColumnElement[Any]] = {
            "total_time": total,
            "mean_time": total / func.nullif(cast(calls, Float), 0),
            "calls": calls,
        }
        # GROUPING SETS: one pass yields each statement's sums and, first, the sums over all of
        # them (what load_pct divides by), which a window over every statement would cost twice.
        is_everything = func.grouping(counters.c.fingerprint)
        sums = (
            select(
                counters.c.fingerprint,
                calls.label("calls"),
                total.label("total"),
                orderings[order_by].label("ordering"),
                is_everything.label("is_everything"),
            )
            .group_by(func.grouping_sets(tuple_(counters.c.fingerprint), tuple_()))
            .order_by(is_everything.desc(), desc(orderings[order_by]).nulls_last(), counters.c.fingerprint)
            .limit(limit + 1)
            .subquery()
        )
        # One index lookup per top row, whatever the planner guesses about `statements` (with no
        # statistics yet it takes the database's catalog for one row and compares every statement
        # with every top row). The LIMIT keeps PostgreSQL from flattening the LATERAL into a join;
        # the fingerprint is the catalog's key, so there is one row anyway.
        text_of = (
            select(Statement.query)
            .where(
                Statement.tenant_id == self._tenant_id,
                Statement.database_id == self._database_id,
                Statement.fingerprint == sums.c.fingerprint,
            )
            .limit(1)
            .lateral("text_of")
        )
        rows = (
            await self._session.execute(
                select(sums, text_of.c.query)
                .outerjoin(text_of, true())
                .order_by(sums.c.is_everything.desc(), desc(sums.c.ordering).nulls_last(), sums.c.fingerprint)
            )
        ).all()
        everything, top = rows[0], rows[1:]
        grand_total = float(everything.total or 0.0)
        return [
            {
                "fingerprint": row.fingerprint,
                "query": row.query,
                "calls": int(row.calls),
                "total": float(row.total),
                "mean": float(row.total) / int(row.calls) if row.calls else 0.0,
                "load_pct": 100.0 * float(row.total) / grand_total if grand_total else 0.0,
            }
            for row in top
            if row.query is not None  # a statement is stored with its first counters; never missing
        ]

    async def text_and_plan(self, fingerprint: str) -> tuple[str, dict[str, Any] | None] | None:
        """The statement's text and its latest plan (None without one), in one round trip; None
        when the database has no such statement."""
        row = (
            await self._session.execute(
                select(Statement.query, Plan.plan)
                .outerjoin(
                    Plan,
                    (Plan.tenant_id == Statement.tenant_id)
                    & (Plan.database_id == Statement.database_id)
                    & (Plan.fingerprint == Statement.fingerprint),
                )
                .where(
                    Statement.tenant_id == self._tenant_id,
                    Statement.database_id == self._database_id,
                    Statement.fingerprint == fingerprint,
                )
            )
        ).first()
        return None if row is None else (row.query, row.plan)

    async def series(self, fingerprint: str, since: datetime, until: datetime) -> Sequence[SeriesRow]:
        """The statement's intervals in the range, oldest first: plain rows, not ORM objects (a
        week of 30-second intervals is 20,000 of them)."""
        result = await self._session.execute(
            select(*_SERIES_COLUMNS)
            .where(*self._in_range(since, until), StatementStat.fingerprint == fingerprint)
            .order_by(StatementStat.collected_at)
        )
        return result.all()
