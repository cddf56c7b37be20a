"""The SQL of folding hourly rollups into daily ones (see migration 0018 and daily_folds).

A database's daily rollups hold its hours before `statement_daily_folds.folded_before`, its hourly
rollups every hour. The mark moves only under the database's fold lock, held by the fold and by
ingestion while it decides where a snapshot's rows go: a snapshot of an hour before the mark adds
to both tables (the fold has passed it), one of a later hour to the hourly rollup alone (the fold
will take it). A fold waits for storing transactions in flight, and they for it, so every hour's
rows reach the daily rollups exactly once. Storing transactions wait for each other too: a
database's snapshots are stored one transaction at a time (see hold).

A fold does not add the new hours to their days: it computes each day it reaches again, from all
of that day's hourly rows before the new mark. The hourly rollups are kept as long as the daily
ones, so a day can always be summed afresh, and then whatever a day's row held before does not
matter: a replica of the previous version (which upserted every snapshot into its day) still
running during an upgrade may have added hours past the mark, and the next fold of that day
replaces them. That is one day of hourly rows a fold (a 5,000-statement database: up to 24 x 5,000
rows, ~0.1 s), once an hour per database, since the mark moves an hour at a time.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, func, literal_column, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.ingestion.series_sql import COUNTER_COLUMNS, SUMS
from control_plane.models import StatementDailyFold

_LOCK_KEY = "daily-fold:{}"
_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")
# The days from the one the old mark falls in (every day, without one) up to the one `before` falls
# in, computed again from their hours before `before`. Partitions: ingestion made each day's for
# both tables together.
_DAYS = """tenant_id = :tenant_id AND database_id = :database_id
       AND bucket >= date_trunc('day', coalesce(CAST(:from AS timestamptz), '-infinity'), 'UTC')
       AND bucket < :before"""
_FORGET_DAYS = text(f"DELETE FROM statement_daily_rollups WHERE {_DAYS}")
_SUM_DAYS = text(f"""
    INSERT INTO statement_daily_rollups (tenant_id, database_id, bucket, fingerprint, samples, {COUNTER_COLUMNS})
    SELECT :tenant_id, :database_id, date_trunc('day', bucket, 'UTC'), fingerprint, sum(samples), {SUMS}
      FROM statement_rollups
     WHERE {_DAYS}
     GROUP BY date_trunc('day', bucket, 'UTC'), fingerprint
""")


def folded_before(
    tenant_id: uuid.UUID | ColumnElement[uuid.UUID], database_id: uuid.UUID | ColumnElement[uuid.UUID]
) -> ColumnElement[datetime]:
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

    async def hold(self) -> datetime | None:
        """For ingestion: the fold lock until the transaction ends, then the mark (None: nothing
        folded yet). Two statements: the read must see a fold that committed while this waited for
        the lock, which a statement's snapshot taken before the wait would not.

        Exclusive, not shared with other storing transactions: two batches of one database adding
        to its rollups at once could deadlock. Each updates the rollup rows its statement can see,
        in key order, and then inserts the others, in key order; a row one batch sees and the other
        does not (inserted by a third, committed in between) breaks that order between them
        (reproduced with four transactions). Taking turns costs little: two batches of one hour
        waited for each other's rows already, and a worker takes a database's waiting snapshots
        together, so two batches of one database rarely meet (snapshots arriving while one is
        stored, picked up by a second worker)."""
        await self._session.execute(_LOCK, self._lock)
        return await self.mark()

    async def fold(self, before: datetime) -> bool:
        """Folds every hour before `before` not folded yet; False (and no lock taken) when the mark
        is there already, as on every turn of the job but the first of each hour."""
        start = await self.mark()  # only ever moves on: past `before` now, past it under the lock
        if start is not None and start >= before:
            return False
        await self._session.execute(_LOCK, self._lock)
        start = await self.mark()
        if start is not None and start >= before:
            return False
        parameters = {**self._keys, "from": start, "before": before}
        await self._session.execute(_FORGET_DAYS, parameters)
        await self._session.execute(_SUM_DAYS, parameters)
        values = {"folded_before": before, "folded_at": func.now()}
        upsert = insert(StatementDailyFold).values(**self._keys, **values)
        await self._session.execute(
            upsert.on_conflict_do_update(index_elements=["tenant_id", "database_id"], set_=values)
        )
        return True

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
