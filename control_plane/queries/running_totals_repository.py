"""SQL of the running totals: reading their state for a range, and computing them a day at a time."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, exists, func, literal, select, text, union_all
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.ingestion.daily_folds_repository import DailyFoldRepository
from control_plane.ingestion.repository import daily_bucket
from control_plane.ingestion.statement_rows import COUNTER_FIELDS
from control_plane.models import (
    MonitoredDatabase,
    Snapshot,
    StatementDailyRollup,
    StatementRunningTotal,
    StatementRunningTotalState,
)
from control_plane.tenancy.context import TenantContext

DAY = timedelta(days=1)
COUNTERS = COUNTER_FIELDS  # every counter a rollup holds, in the wire model's order


@dataclass(frozen=True)
class RunningTotals:
    """Which days' totals a reader may use: rows for [kept_from, through_day], zero before first_day."""

    first_day: datetime
    kept_from: datetime
    through_day: datetime

    def has(self, day: datetime) -> bool:
        """Whether the total through `day` is known: zero before the history, or a stored row set."""
        return day < self.first_day or self.kept_from <= day <= self.through_day


class RunningTotalsRepository:
    def __init__(self, session: AsyncSession, context: TenantContext, database_id: uuid.UUID) -> None:
        self._session = session
        self._tenant_id = context.tenant_id
        self._database_id = database_id

    def _of_database(
        self, model: type[StatementRunningTotalState] | type[Snapshot]
    ) -> list[ColumnElement[bool]]:
        return [model.tenant_id == self._tenant_id, model.database_id == self._database_id]

    async def current(self) -> RunningTotals | None:
        """The totals if they hold every stored snapshot of their days, else None (then ranges read
        the rollups). One indexed look at the snapshots stored since they were computed."""
        state = StatementRunningTotalState
        stored_since = exists().where(
            *self._of_database(Snapshot),
            Snapshot.received_at >= state.complete_before,
            Snapshot.collected_at < state.through_day + DAY,
        )
        row = (
            await self._session.execute(
                select(
                    state.first_day, state.kept_from, state.through_day, stored_since.label("stale")
                ).where(*self._of_database(state))
            )
        ).first()
        if row is None or row.stale:
            return None
        return RunningTotals(row.first_day, row.kept_from, row.through_day)

    # The job's side, in one transaction per database.

    async def lock(self) -> None:
        """One computation per database at a time (two workers would insert the same rows)."""
        await self._session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"running-totals:{self._database_id}"},
        )

    async def days_folded_before(self) -> datetime | None:
        """The first day the daily rollups do not hold whole (the hourly rollups still hold some of
        its hours, see ingestion.daily_folds); None when they hold no day whole."""
        mark = await DailyFoldRepository(self._session, self._tenant_id, self._database_id).mark()
        return None if mark is None else daily_bucket(mark)

    async def state(self) -> StatementRunningTotalState | None:
        return await self._session.scalar(
            select(StatementRunningTotalState).where(*self._of_database(StatementRunningTotalState))
        )

    async def daily_span(self) -> tuple[datetime, datetime] | None:
        """The first and last day the daily rollups hold, None without any."""
        daily = StatementDailyRollup
        row = (
            await self._session.execute(
                select(func.min(daily.bucket), func.max(daily.bucket)).where(
                    daily.tenant_id == self._tenant_id, daily.database_id == self._database_id
                )
            )
        ).one()
        return None if row[0] is None else (row[0], row[1])

    async def first_stale_day(self, state: StatementRunningTotalState) -> datetime | None:
        """The earliest day of a snapshot stored too late to be in the totals, None when none was."""
        found: datetime | None = await self._session.scalar(
            select(func.min(Snapshot.collected_at)).where(
                *self._of_database(Snapshot),
                Snapshot.received_at >= state.complete_before,
                Snapshot.collected_at < state.through_day + DAY,
            )
        )
        return found

    async def forget_from(self, day: datetime) -> None:
        totals = StatementRunningTotal
        await self._session.execute(
            delete(totals).where(
                totals.tenant_id == self._tenant_id,
                totals.database_id == self._database_id,
                totals.day >= day,
            )
        )

    async def forget_before(self, day: datetime) -> None:
        totals = StatementRunningTotal
        await self._session.execute(
            delete(totals).where(
                totals.tenant_id == self._tenant_id, totals.database_id == self._database_id, totals.day < day
            )
        )

    async def add_day(self, day: datetime) -> None:
        """total(day) = total(day - 1) + the day's rollup, for every statement in either (carried
        forward: ~10,000 rows for a 10,000-statement database, ~50 ms)."""
        totals, daily = StatementRunningTotal, StatementDailyRollup
        before = select(totals.fingerprint, *(getattr(totals, name) for name in COUNTERS)).where(
            totals.tenant_id == self._tenant_id,
            totals.database_id == self._database_id,
            totals.day == day - DAY,
        )
        during = select(daily.fingerprint, *(getattr(daily, name) for name in COUNTERS)).where(
            daily.tenant_id == self._tenant_id, daily.database_id == self._database_id, daily.bucket == day
        )
        both = union_all(before, during).subquery("both")
        summed = select(
            literal(self._tenant_id),
            literal(self._database_id),
            literal(day),
            both.c.fingerprint,
            *(func.sum(both.c[name]) for name in COUNTERS),
        ).group_by(both.c.fingerprint)
        await self._session.execute(
            insert(totals).from_select(["tenant_id", "database_id", "day", "fingerprint", *COUNTERS], summed)
        )

    async def save_state(
        self, first_day: datetime, kept_from: datetime, through_day: datetime, settle: timedelta
    ) -> None:
        values = {
            "first_day": first_day,
            "kept_from": kept_from,
            "through_day": through_day,
            # Read before any of this transaction's work: a snapshot committed after that moment is
            # not in the totals, and neither may be one stored in a transaction still open then.
            "complete_before": func.now() - settle,
            "computed_at": func.now(),
        }
        upsert = insert(StatementRunningTotalState).values(
            tenant_id=self._tenant_id, database_id=self._database_id, **values
        )
        await self._session.execute(
            upsert.on_conflict_do_update(index_elements=["tenant_id", "database_id"], set_=values)
        )


async def tenant_database_ids(session: AsyncSession, context: TenantContext) -> list[uuid.UUID]:
    rows = await session.scalars(
        select(MonitoredDatabase.id).where(MonitoredDatabase.tenant_id == context.tenant_id)
    )
    return list(rows)
