"""The SQL of folding hourly rollups into daily ones (see migration 0018 and daily_folds).

A database's daily rollups hold its hours before `statement_daily_folds.folded_before`, its hourly
rollups every hour. The mark moves only under the database's fold lock, held exclusively by the
fold and shared by ingestion while it decides where a snapshot's rows go: a snapshot of an hour
before the mark adds to both tables (the fold has passed it), one of a later hour to the hourly
rollup alone (the fold will take it). A fold waits for storing transactions in flight, and they for
it, so every hour's rows reach the daily rollups exactly once.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, func, literal_column, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.ingestion.series_sql import SUMS, add_to_rollup
from control_plane.models import StatementDailyFold

_LOCK_KEY = "daily-fold:{}"
_LOCK_SHARED = text("SELECT pg_advisory_xact_lock_shared(hashtextextended(:key, 0))")
_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")
# The hours [from, before) of one database, added to their days' rows (a day partly folded before
# gets the rest added). Partitions: ingestion made each day's for both tables together.
_DAY = "date_trunc('day', bucket, 'UTC')"
_FOLD = text(
    add_to_rollup(
        "statement_daily_rollups",
        f"""SELECT :tenant_id, :database_id, {_DAY}, fingerprint, sum(samples), {SUMS}
              FROM statement_rollups
             WHERE tenant_id = :tenant_id AND database_id = :database_id
               AND bucket >= coalesce(CAST(:from AS timestamptz), '-infinity') AND bucket < :before
             GROUP BY {_DAY}, fingerprint
             ORDER BY {_DAY}, fingerprint""",
    )
)


def folded_before(tenant_id: uuid.UUID, database_id: uuid.UUID) -> ColumnElement[datetime]:
    """The database's mark as an expression for a reader's statement (-infinity without one): read
    once (an InitPlan), in that statement's own MVCC snapshot, with the rollups it reads."""
    fold = StatementDailyFold
    mark = select(fold.folded_before).where(fold.tenant_id == tenant_id, fold.database_id == database_id)
    return func.coalesce(mark.scalar_subquery(), literal_column("'-infinity'::timestamptz"))


class DailyFoldRepository:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID, database_id: uuid.UUID) -> None:
        self._session = session
        self._keys = {"tenant_id": tenant_id, "database_id": database_id}
        self._lock = {"key": _LOCK_KEY.format(database_id)}

    async def hold_shared(self) -> datetime | None:
        """For ingestion: the fold lock, shared until the transaction ends, then the mark (None:
        nothing folded yet). Two statements: the read must see a fold that committed while this
        waited for the lock, which a statement's snapshot taken before the wait would not."""
        await self._session.execute(_LOCK_SHARED, self._lock)
        return await self.mark()

    async def fold(self, before: datetime) -> datetime | None:
        """Folds every hour before `before` not folded yet; returns the mark it started from
        (unchanged, and nothing done, when it was at `before` already)."""
        await self._session.execute(_LOCK, self._lock)
        start = await self.mark()
        if start is not None and start >= before:
            return start
        await self._session.execute(_FOLD, {**self._keys, "from": start, "before": before})
        values = {"folded_before": before, "folded_at": func.now()}
        upsert = insert(StatementDailyFold).values(**self._keys, **values)
        await self._session.execute(
            upsert.on_conflict_do_update(index_elements=["tenant_id", "database_id"], set_=values)
        )
        return start

    async def mark(self) -> datetime | None:
        """Before which hour the daily rollups are complete (None: none is). Without the lock it
        may be a moment old, never ahead: it only moves on."""
        found: datetime | None = await self._session.scalar(
            select(StatementDailyFold.folded_before).where(
                StatementDailyFold.tenant_id == self._keys["tenant_id"],
                StatementDailyFold.database_id == self._keys["database_id"],
            )
        )
        return found
