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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    Select,
    and_,
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
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.db.counter_sums import counter_sum
from control_plane.db.session import NUMERIC_VALUE_OUT_OF_RANGE, sqlstate
from control_plane.ingestion.daily_folds_repository import folded_before
from control_plane.ingestion.repository import ROLLUP_BUCKET, rollup_bucket
from control_plane.models import (
    Plan,
    Snapshot,
    Statement,
    StatementDailyRollup,
    StatementRollup,
    StatementRunningTotal,
    StatementStat,
)
from control_plane.queries.intervals import intervals_between
from control_plane.queries.running_totals_repository import DAY, RunningTotals, RunningTotalsRepository
from control_plane.tenancy.context import TenantContext

__all__ = ["QueryRepository", "StatementSums", "TopPage", "rollup_bucket"]
# The counters top queries and the heatmap add up, in the rollups and the raw rows alike.
SUMMED = ("calls", "total_exec_time_ms", "rows", "shared_blks_hit", "shared_blks_read", "temp_blks_written")


@dataclass(frozen=True)
class StatementSums:
    """One statement's counters added up over a range, and the database's total time in it."""

    fingerprint: str
    query: str
    calls: int
    total_exec_time_ms: float
    rows: int
    shared_blks_hit: int
    shared_blks_read: int
    temp_blks_written: int
    grand_total_exec_time_ms: float


@dataclass(frozen=True)
class TopPage:
    matching: int  # statements in the range (that the search matched), before paging
    statements: list[StatementSums]


def _ranked(sums: Any, order_by: str) -> tuple[ColumnElement[Any], ...]:
    """The order of a page of top statements, from the columns of their sums: busiest first by
    `order_by`, ties by fingerprint (so that pages never overlap)."""
    total, calls = sums.total_exec_time_ms, sums.calls
    orderings: dict[str, ColumnElement[Any]] = {
        "total_time": total,
        "mean_time": total / func.nullif(cast(calls, Float), 0),
        "calls": calls,
        "rows": sums.rows,
        "shared_blks_read": sums.shared_blks_read,
        "temp_blks_written": sums.temp_blks_written,
    }
    return desc(orderings[order_by]).nulls_last(), sums.fingerprint


def _whole_days(after_first: datetime, last: datetime) -> tuple[datetime, datetime]:
    """[first midnight at or after `after_first`, last midnight at or before `last`): the UTC days
    whose every hour lies in [after_first, last), the hours a range reads rolled up for sure."""
    start = after_first.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if start < after_first:
        start += timedelta(days=1)
    end = last.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, end


def _aware(at: datetime) -> datetime:
    """A time without an offset is UTC, as PostgreSQL reads it for a timestamptz parameter."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


class QueryRepository:
    def __init__(self, session: AsyncSession, context: TenantContext, database_id: uuid.UUID) -> None:
        self._session = session
        self._context = context
        self._tenant_id = context.tenant_id
        self._database_id = database_id

    def _in_range(
        self, since: datetime, until: datetime, of_snapshots: Sequence[ColumnElement[bool]] = ()
    ) -> list[ColumnElement[bool]]:
        # A snapshot at a time (queries/intervals.py): the heatmap reads an edge hour's raw rows of
        # 20 statements, not every statement's.
        return intervals_between(self._tenant_id, self._database_id, since, until, of_snapshots=of_snapshots)

    def _snapshot_between(self, *bounds: ColumnElement[bool]) -> ColumnElement[bool]:
        # Uncorrelated: PostgreSQL evaluates it once (an InitPlan), before it prunes or scans.
        return exists().where(
            Snapshot.tenant_id == self._tenant_id, Snapshot.database_id == self._database_id, *bounds
        )

    def _raw(self, since: datetime, until: datetime, *where: ColumnElement[bool]) -> Select[Any]:
        return select(
            StatementStat.fingerprint,
            StatementStat.collected_at.label("at"),
            *(getattr(StatementStat, name) for name in SUMMED),
        ).where(*self._in_range(since, until), *where)

    def _daily(self, first: datetime, end: datetime, *where: ColumnElement[bool]) -> list[Select[Any]]:
        """Every hour of the days [first, end): their daily rollups, which hold the hours folded so
        far, and the hourly rollups of the hours after the fold mark (ingestion.daily_folds), read
        in this statement's MVCC snapshot with the mark. `at` is a midnight or an hour's start."""
        mark = folded_before(self._tenant_id, self._database_id)
        return [
            select(
                table.fingerprint, table.bucket.label("at"), *(getattr(table, name) for name in SUMMED)
            ).where(
                table.tenant_id == self._tenant_id,
                table.database_id == self._database_id,
                table.bucket >= first,
                table.bucket < end,
                *after_mark,
                *where,
            )
            for table, after_mark in (
                (StatementDailyRollup, ()),
                (StatementRollup, (StatementRollup.bucket >= mark,)),
            )
        ]

    def _hours_negated(self, *where: ColumnElement[bool]) -> Select[Any]:
        hourly = StatementRollup
        return select(
            hourly.fingerprint, hourly.bucket.label("at"), *(-getattr(hourly, name) for name in SUMMED)
        ).where(hourly.tenant_id == self._tenant_id, hourly.database_id == self._database_id, *where)

    def _running_total(self, day: datetime, sign: int) -> Select[Any]:
        totals = StatementRunningTotal
        return select(
            totals.fingerprint, totals.day.label("at"), *(sign * getattr(totals, name) for name in SUMMED)
        ).where(
            totals.tenant_id == self._tenant_id, totals.database_id == self._database_id, totals.day == day
        )

    def _whole_days(
        self,
        day_from: datetime,
        day_to: datetime,
        last_day_whole: ColumnElement[bool],
        totals: RunningTotals | None,
    ) -> list[Select[Any]]:
        """The rows of the days [day_from, day_to), and of the day `day_to` when `last_day_whole`."""
        last_day = self._daily(day_to, day_to + DAY, last_day_whole)
        summed_from = day_from
        branches: list[Select[Any]] = []
        through = min(day_to, totals.through_day + DAY) if totals else day_from
        # Two days or more: total(through - 1 day) - total(day_from - 1 day), one row per statement each.
        if (
            totals
            and through - day_from >= 2 * DAY
            and totals.has(day_from - DAY)
            and totals.has(through - DAY)
        ):
            branches.append(self._running_total(through - DAY, 1))
            if day_from - DAY >= totals.first_day:
                branches.append(self._running_total(day_from - DAY, -1))
            summed_from = through
        if summed_from < day_to:
            branches += self._daily(summed_from, day_to)
        return [*branches, *last_day]

    async def running_totals(self) -> RunningTotals | None:
        return await RunningTotalsRepository(self._session, self._context, self._database_id).current()

    def counters_in_range(self, since: datetime, until: datetime, totals: RunningTotals | None) -> Any:
        return self.counters_select(since, until, whole_days=True, totals=totals).subquery("counters")

    def counters_select(
        self,
        since: datetime,
        until: datetime,
        without_first_snapshots: bool = False,
        whole_days: bool = False,
        fingerprints: Any = None,
        totals: RunningTotals | None = None,
    ) -> Any:
        """(fingerprint, at, *SUMMED) rows whose per-fingerprint sums are those of the raw rows.

        `at` is a rollup's hour start or a raw row's `collected_at`: grouping by any grid of whole
        hours (see control_plane.heatmap) keeps the sums exact per cell too. Without first
        snapshots, the sums are those of the raw rows with an `interval_seconds` (an agent's first
        snapshot carries the counters since the last reset: days of work, not an interval's); the
        rollups include those rows, so they are read again, negated, for the hours read rolled up."""
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
        rolled_from = case((first_cut, literal(after_first)), else_=literal(first))
        rolled_to = case((last_cut, literal(last - ROLLUP_BUCKET)), else_=literal(last))
        rollups = select(
            StatementRollup.fingerprint,
            StatementRollup.bucket.label("at"),
            *(getattr(StatementRollup, name) for name in SUMMED),
        ).where(
            StatementRollup.tenant_id == self._tenant_id,
            StatementRollup.database_id == self._database_id,
            StatementRollup.bucket >= rolled_from,
            StatementRollup.bucket <= rolled_to,
        )
        days: list[Select[Any]] = []
        day_from, day_to = _whole_days(after_first, last)
        if whole_days and day_from <= day_to:
            # Days that lie whole inside the hours read rolled up whichever way the edges go come
            # from the daily rollups, or from the running totals: 30 days of 10,000 statements are
            # ~300,000 daily rows instead of 2.7 million hourly ones (2.2 s -> ~0.4 s on 2 cores),
            # and 20,000 running-total rows. The day `until` falls in is whole as well when none of
            # its snapshots lies after `until` (a range that ends now): one row per statement
            # instead of up to 24 hours' (~90,000), with the hours not folded into it yet (see
            # ingestion.daily_folds). `at` is then a midnight or an hour: only for callers that
            # sum per statement, not per hour.
            last_day_whole = ~self._snapshot_between(
                Snapshot.collected_at > until, Snapshot.collected_at < day_to + DAY
            )
            hour = StatementRollup.bucket
            days = self._whole_days(day_from, day_to, last_day_whole, totals)
            cut_day = day_from - DAY  # the day `since` falls in, whose hours from `rolled_from` are read
            if first - cut_day < day_from - first:
                # Most of its hours are in the range: its daily rollup less the hours before them,
                # at most 11 hours of rows instead of up to 23 (~3,800 rows an hour for 10,000
                # statements; a 24-hour range starting at 02:00 reads 2 hours, not 22).
                rollups = rollups.where(hour >= day_to, ~last_day_whole)
                days += [
                    *self._daily(cut_day, cut_day + DAY),
                    self._hours_negated(hour >= cut_day, hour < rolled_from),
                ]
            else:
                rollups = rollups.where(or_(hour < day_from, and_(hour >= day_to, ~last_day_whole)))
        intervals = [StatementStat.interval_seconds.is_not(None)] if without_first_snapshots else []
        raw = [self._raw(since, until, StatementStat.collected_at < after_first, first_cut, *intervals)]
        if first != last:
            raw.append(self._raw(since, until, StatementStat.collected_at >= last, last_cut, *intervals))
        if without_first_snapshots:
            raw.append(
                select(
                    StatementStat.fingerprint,
                    StatementStat.collected_at.label("at"),
                    *(-getattr(StatementStat, name) for name in SUMMED),
                ).where(
                    # Found through `snapshots` (one row per snapshot), not by reading every raw
                    # row of the range for the few without an interval: 2.3 s for a week of 2,000
                    # statements that way.
                    *self._in_range(
                        since,
                        until,
                        of_snapshots=[
                            Snapshot.collected_at >= rolled_from,
                            Snapshot.collected_at < rolled_to + ROLLUP_BUCKET,
                            Snapshot.interval_seconds.is_(None),
                        ],
                    ),
                    StatementStat.interval_seconds.is_(None),
                )
            )
        branches = [rollups, *days, *raw]
        if fingerprints is not None:
            # In every branch, not around the union: PostgreSQL does not push a semi-join into a
            # UNION ALL, and the whole range would be read to keep 20 statements (0.4 s for 7 days).
            branches = [
                branch.where(branch.selected_columns.fingerprint.in_(fingerprints)) for branch in branches
            ]
        return union_all(*branches)

    async def top(
        self,
        since: datetime,
        until: datetime,
        order_by: str,
        limit: int,
        offset: int = 0,
        search: str | None = None,
    ) -> TopPage:
        """One page of the statements over the range, busiest first, and how many there are in all
        (those whose text contains `search`, case-insensitively, when given)."""
        since, until = _aware(since), _aware(until)
        if since > until:
            return TopPage(matching=0, statements=[])
        totals = await self.running_totals()

        def statement(exact: bool) -> Select[Any]:
            return self._top(since, until, totals, order_by, limit, offset, search, exact)

        # Bigint counters summed as bigint, not numeric (db.counter_sums): ~13 -> ~9 ms for 5,000.
        # A range whose sums pass 9.2e18 (only counters no server produces, a forged snapshot's)
        # is read again with numeric sums, behind a savepoint: exact, as before, not an error.
        try:
            async with self._session.begin_nested():
                rows = (await self._session.execute(statement(exact=False))).all()
        except DBAPIError as error:
            if sqlstate(error) != NUMERIC_VALUE_OUT_OF_RANGE:
                raise
            rows = (await self._session.execute(statement(exact=True))).all()
        everything_row, top = rows[0], rows[1:]
        grand_total = float(everything_row.total_exec_time_ms or 0.0)
        return TopPage(
            matching=int(everything_row.matching),
            statements=[
                StatementSums(
                    fingerprint=row.fingerprint,
                    query=row.query,
                    grand_total_exec_time_ms=grand_total,
                    **{name: getattr(row, name) for name in SUMMED},
                )
                for row in top
                if row.query is not None  # a statement is stored with its first counters; never missing
            ],
        )

    def _top(
        self,
        since: datetime,
        until: datetime,
        totals: RunningTotals | None,
        order_by: str,
        limit: int,
        offset: int,
        search: str | None,
        exact: bool,
    ) -> Select[Any]:
        """The statement of `top`: the grand total's row, then the page's, with their texts."""
        counters = self.counters_in_range(since, until, totals)
        sums = {name: counter_sum(name, getattr(counters.c, name), exact) for name in SUMMED}
        # GROUPING SETS: one pass yields each statement's sums and, first, the sums over all of
        # them (what load_pct divides by), which a window over every statement would cost twice.
        # A search keeps the statements it matches (HAVING) but not out of that grand total: the
        # share of load stays the share of the database's.
        is_everything = func.grouping(counters.c.fingerprint)
        # A statement whose counters net to no calls ran only before the range: the day `since`
        # falls in is read as its daily rollup less its hours before `since` (counters_in_range),
        # so a statement of those hours alone sums to zero and must not be listed (a range starting
        # between 01:00 and 11:59 listed it with 0 calls).
        kept = [or_(is_everything == 1, sums["calls"] > 0)]
        if search:
            kept.append(or_(is_everything == 1, counters.c.fingerprint.in_(self._matching(search))))
        grouped = (
            select(
                counters.c.fingerprint,
                *(column.label(name) for name, column in sums.items()),
                is_everything.label("is_everything"),
            )
            .group_by(func.grouping_sets(tuple_(counters.c.fingerprint), tuple_()))
            .having(*kept)
            .cte("grouped")
        )
        # The grand total's row, with how many statements there are, then the page: ORDER BY with
        # a LIMIT keeps only the page's rows while it reads the statements (a top-N sort), where
        # numbering every statement with a window sorted all 5,000 and ran two windows over them:
        # ~6 of the ~15 ms the read took in PostgreSQL.
        everything = select(
            grouped,
            (select(func.count()).select_from(grouped).scalar_subquery() - 1).label("matching"),
        ).where(grouped.c.is_everything == 1)
        one_page = (
            select(grouped, cast(literal(None), BigInteger).label("matching"))
            .where(grouped.c.is_everything == 0)
            .order_by(*_ranked(grouped.c, order_by))
            .offset(offset)
            .limit(limit)
        )
        page = union_all(everything, one_page.subquery().select()).subquery()
        # One index lookup per row of the page, whatever the planner guesses about `statements`
        # (with no statistics yet it takes the database's catalog for one row and compares every
        # statement with every top row). The LIMIT keeps PostgreSQL from flattening the LATERAL
        # into a join; the fingerprint is the catalog's key, so there is one row anyway.
        text_of = (
            select(Statement.query)
            .where(
                Statement.tenant_id == self._tenant_id,
                Statement.database_id == self._database_id,
                Statement.fingerprint == page.c.fingerprint,
            )
            .limit(1)
            .lateral("text_of")
        )
        return (
            select(page, text_of.c.query)
            .outerjoin(text_of, true())
            .order_by(page.c.is_everything.desc(), *_ranked(page.c, order_by))
        )

    def _matching(self, search: str) -> Select[Any]:
        """The database's statements whose text contains `search` (table names are in the text)."""
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return select(Statement.fingerprint).where(
            Statement.tenant_id == self._tenant_id,
            Statement.database_id == self._database_id,
            Statement.query.ilike(f"%{escaped}%", escape="\\"),
        )

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
