"""The statement that reads statements' counters over a time range, as (fingerprint, at, counters) rows
whose per-statement sums are those of the raw rows: its shape, and the values it reads with.

Over [since, until] (both inclusive, on `collected_at`) it reads the hours the range covers whole
from `statement_rollups`, and the raw `statement_stats` rows only for an edge hour the range cuts
through *and* that holds a snapshot outside the range. Whether it does is asked of `snapshots` (one
row per stored snapshot, indexed by time) in the same statement, so the answer and the sums come
from one MVCC snapshot: the result is exactly the sum of the raw rows in the range. An edge hour
read raw costs that hour's rows (found by `collected_at`), up to 120 snapshots' worth. A range that
starts on the hour and ends now, with nothing after it in its hour, reads no raw rows at all.

Built once per shape. The SQL depends only on a few decisions made from the range's times (its
`RangeShape`); every time and key it reads with is a named bind parameter whose value
(`RangeValues`) is worked out per request. The builder is given the shape and the parameters, never
a value, so a statement kept for one request cannot carry that request's values into another's.
Building it took SQLAlchemy ~4.5 of the ~12 ms of CPU the API spent on a top-queries read of 5,000
statements (in-process, 150 reads, 2026-12-06); a kept statement is also compiled once, where each
new one had its cache key worked out again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    DateTime,
    Select,
    Uuid,
    bindparam,
    case,
    exists,
    false,
    or_,
    select,
    union_all,
)

from control_plane.ingestion.daily_folds_repository import folded_before
from control_plane.ingestion.repository import ROLLUP_BUCKET, daily_bucket, rollup_bucket
from control_plane.models import (
    Snapshot,
    StatementDailyRollup,
    StatementRollup,
    StatementRunningTotal,
    StatementStat,
)
from control_plane.queries.intervals import intervals_between
from control_plane.queries.running_totals_repository import DAY, RunningTotals

# The counters top queries and the heatmap add up, in the rollups and the raw rows alike.
SUMMED = ("calls", "total_exec_time_ms", "rows", "shared_blks_hit", "shared_blks_read", "temp_blks_written")

K = TypeVar("K")
T = TypeVar("T")


@dataclass(frozen=True)
class RangeKeys(Generic[K, T]):
    """What the statement reads with, by name: the values (RangeValues) or their bind parameters."""

    tenant_id: K
    database_id: K
    since: T
    until: T
    first: T  # the hour `since` falls in
    after_first: T
    last: T  # the hour `until` falls in
    before_last: T
    after_last: T
    day_from: T  # the first midnight of the days read whole, when any are
    day_to: T  # the midnight after them: the day `until` falls in
    after_day_to: T
    day_before_from: T  # the day `since` falls in
    summed_from: T  # where the daily rollups take over from the running totals
    total_through: T  # the running total read (through that day)


RangeValues = RangeKeys[uuid.UUID, datetime]
RangeBinds = RangeKeys[ColumnElement[uuid.UUID], ColumnElement[datetime]]


def _bind_type(name: str) -> Any:
    return Uuid() if name in ("tenant_id", "database_id") else DateTime(timezone=True)


def named_binds() -> RangeBinds:
    """Parameters without values, for a statement kept and run with `params(values)`."""
    return RangeKeys(**{f.name: bindparam(f.name, type_=_bind_type(f.name)) for f in fields(RangeKeys)})


def valued_binds(values: RangeValues) -> RangeBinds:
    """Parameters carrying their values, each named apart (`unique`): for a statement built once and
    put inside another, where a second range's parameters must not take the first one's values."""
    return RangeKeys(
        **{
            f.name: bindparam(f.name, getattr(values, f.name), type_=_bind_type(f.name), unique=True)
            for f in fields(RangeKeys)
        }
    )


def params(values: RangeValues) -> dict[str, Any]:
    """The values of a statement built from `named_binds()`, by parameter name."""
    return {f.name: getattr(values, f.name) for f in fields(RangeKeys)}


@dataclass(frozen=True)
class DaysShape:
    """How the days that lie whole inside the range are read."""

    running_totals: bool  # total(through a day) ...
    less_running_total: bool  # ... less total(the day before `day_from`)
    daily_after_totals: bool  # the daily rollups of [summed_from, day_to)
    since_day_less_hours: bool  # the day `since` falls in: its daily rollup less its hours before


@dataclass(frozen=True)
class RangeShape:
    first_hour_may_be_cut: bool  # `since` is not on the hour
    one_hour: bool  # `since` and `until` fall in one hour
    days: DaysShape | None  # None: no whole days, or not asked for
    without_first_snapshots: bool


def _whole_days(after_first: datetime, last: datetime) -> tuple[datetime, datetime]:
    """[first midnight at or after `after_first`, last midnight at or before `last`): the UTC days
    whose every hour lies in [after_first, last), the hours a range reads rolled up for sure."""
    start = daily_bucket(after_first)
    if start < after_first:
        start += DAY
    return start, daily_bucket(last)


def plan_range(
    tenant_id: uuid.UUID,
    database_id: uuid.UUID,
    since: datetime,
    until: datetime,
    *,
    whole_days: bool = False,
    without_first_snapshots: bool = False,
    totals: RunningTotals | None = None,
) -> tuple[RangeShape, RangeValues]:
    """The statement's shape for [since, until] and the values it reads with (see the docstring).

    Days that lie whole inside the hours read rolled up whichever way the edges go come from the
    daily rollups, or from the running totals, with `whole_days`: 30 days of 10,000 statements are
    ~300,000 daily rows instead of 2.7 million hourly ones (2.2 s -> ~0.4 s on 2 cores), and 20,000
    running-total rows. The day `until` falls in is whole as well when none of its snapshots lies
    after `until` (a range that ends now): one row per statement instead of up to 24 hours' (~90,000),
    with the hours not folded into it yet (see ingestion.daily_folds). `at` is then a midnight or an
    hour: only for callers that sum per statement, not per hour."""
    first, last = rollup_bucket(since), rollup_bucket(until)
    after_first = first + ROLLUP_BUCKET
    day_from, day_to = _whole_days(after_first, last)
    through = min(day_to, totals.through_day + DAY) if totals else day_from
    # Two days or more: total(through - 1 day) - total(day_from - 1 day), one row per statement each.
    running_totals = bool(
        totals and through - day_from >= 2 * DAY and totals.has(day_from - DAY) and totals.has(through - DAY)
    )
    summed_from = through if running_totals else day_from
    days = None
    if whole_days and day_from <= day_to:
        days = DaysShape(
            running_totals=running_totals,
            less_running_total=running_totals and totals is not None and day_from - DAY >= totals.first_day,
            daily_after_totals=summed_from < day_to,
            # Most of the day `since` falls in lies in the range: its daily rollup less the hours
            # before them is at most 11 hours of rows instead of up to 23 (~3,800 rows an hour for
            # 10,000 statements; a 24-hour range starting at 02:00 reads 2 hours, not 22).
            since_day_less_hours=first - (day_from - DAY) < day_from - first,
        )
    shape = RangeShape(
        first_hour_may_be_cut=since > first,
        one_hour=first == last,
        days=days,
        without_first_snapshots=without_first_snapshots,
    )
    values = RangeKeys(
        tenant_id=tenant_id,
        database_id=database_id,
        since=since,
        until=until,
        first=first,
        after_first=after_first,
        last=last,
        before_last=last - ROLLUP_BUCKET,
        after_last=last + ROLLUP_BUCKET,
        day_from=day_from,
        day_to=day_to,
        after_day_to=day_to + DAY,
        day_before_from=day_from - DAY,
        summed_from=summed_from,
        total_through=through - DAY,
    )
    return shape, values


class _Reads:
    """The branches of the statement, over the binds' database."""

    def __init__(self, b: RangeBinds) -> None:
        self.b = b

    def snapshot_between(self, *bounds: ColumnElement[bool]) -> ColumnElement[bool]:
        # Uncorrelated: PostgreSQL evaluates it once (an InitPlan), before it prunes or scans.
        return exists().where(
            Snapshot.tenant_id == self.b.tenant_id, Snapshot.database_id == self.b.database_id, *bounds
        )

    def in_range(self, of_snapshots: list[ColumnElement[bool]] | None = None) -> list[ColumnElement[bool]]:
        # A snapshot at a time (queries/intervals.py): the heatmap reads an edge hour's raw rows of
        # 20 statements, not every statement's.
        b = self.b
        return intervals_between(
            b.tenant_id, b.database_id, b.since, b.until, of_snapshots=of_snapshots or ()
        )

    def raw(self, *where: ColumnElement[bool]) -> Select[Any]:
        return select(
            StatementStat.fingerprint,
            StatementStat.collected_at.label("at"),
            *(getattr(StatementStat, name) for name in SUMMED),
        ).where(*self.in_range(), *where)

    def rollups(self, *where: ColumnElement[bool]) -> Select[Any]:
        rollup = StatementRollup
        return select(
            rollup.fingerprint, rollup.bucket.label("at"), *(getattr(rollup, name) for name in SUMMED)
        ).where(rollup.tenant_id == self.b.tenant_id, rollup.database_id == self.b.database_id, *where)

    def daily(self, first: Any, end: Any, *where: ColumnElement[bool]) -> list[Select[Any]]:
        """Every hour of the days [first, end): their daily rollups, which hold the hours folded so
        far, and the hourly rollups of the hours after the fold mark (ingestion.daily_folds), read
        in this statement's MVCC snapshot with the mark. `at` is a midnight or an hour's start."""
        b = self.b
        mark = folded_before(b.tenant_id, b.database_id)
        return [
            select(
                table.fingerprint, table.bucket.label("at"), *(getattr(table, name) for name in SUMMED)
            ).where(
                table.tenant_id == b.tenant_id,
                table.database_id == b.database_id,
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

    def hours_negated(self, *where: ColumnElement[bool]) -> Select[Any]:
        hourly = StatementRollup
        return select(
            hourly.fingerprint, hourly.bucket.label("at"), *(-getattr(hourly, name) for name in SUMMED)
        ).where(hourly.tenant_id == self.b.tenant_id, hourly.database_id == self.b.database_id, *where)

    def running_total(self, day: ColumnElement[datetime], sign: int) -> Select[Any]:
        totals = StatementRunningTotal
        return select(
            totals.fingerprint, totals.day.label("at"), *(sign * getattr(totals, name) for name in SUMMED)
        ).where(
            totals.tenant_id == self.b.tenant_id, totals.database_id == self.b.database_id, totals.day == day
        )

    def whole_days(self, days: DaysShape, last_day_whole: ColumnElement[bool]) -> list[Select[Any]]:
        """The rows of the days [day_from, day_to), and of the day `day_to` when `last_day_whole`."""
        b = self.b
        branches: list[Select[Any]] = []
        if days.running_totals:
            branches.append(self.running_total(b.total_through, 1))
            if days.less_running_total:
                branches.append(self.running_total(b.day_before_from, -1))
        if days.daily_after_totals:
            branches += self.daily(b.summed_from, b.day_to)
        return [*branches, *self.daily(b.day_to, b.after_day_to, last_day_whole)]


def counters_union(shape: RangeShape, b: RangeBinds, fingerprints: Any = None) -> CompoundSelect[Any]:
    """(fingerprint, at, *SUMMED) rows whose per-fingerprint sums are those of the raw rows.

    `at` is a rollup's hour start or a raw row's `collected_at`: grouping by any grid of whole
    hours (see control_plane.heatmap) keeps the sums exact per cell too, unless the shape reads
    whole days. Without first snapshots, the sums are those of the raw rows with an
    `interval_seconds` (an agent's first snapshot carries the counters since the last reset: days of
    work, not an interval's); the rollups include those rows, so they are read again, negated, for
    the hours read rolled up."""
    reads = _Reads(b)
    # An edge hour is read raw when the range leaves out one of its snapshots.
    first_cut: ColumnElement[bool] = (
        reads.snapshot_between(Snapshot.collected_at >= b.first, Snapshot.collected_at < b.since)
        if shape.first_hour_may_be_cut
        else false()
    )
    last_cut: ColumnElement[bool] = reads.snapshot_between(
        Snapshot.collected_at > b.until, Snapshot.collected_at < b.after_last
    )
    if shape.one_hour:  # one hour: whole from the rollup, or raw
        first_cut = last_cut = or_(first_cut, last_cut)
    rolled_from = case((first_cut, b.after_first), else_=b.first)
    rolled_to = case((last_cut, b.before_last), else_=b.last)
    hour = StatementRollup.bucket
    # The plain bounds let PostgreSQL leave out the other days' partitions while it plans; the
    # CASEs are only known once it runs.
    in_hours = [hour >= b.first, hour <= b.last, hour >= rolled_from, hour <= rolled_to]
    branches: list[Select[Any]]
    if shape.days is None:
        branches = [reads.rollups(*in_hours)]
    else:
        last_day_whole = ~reads.snapshot_between(
            Snapshot.collected_at > b.until, Snapshot.collected_at < b.after_day_to
        )
        days = reads.whole_days(shape.days, last_day_whole)
        if shape.days.since_day_less_hours:
            branches = [
                reads.rollups(*in_hours, hour >= b.day_to, ~last_day_whole),
                *days,
                *reads.daily(b.day_before_from, b.day_from),
                reads.hours_negated(hour >= b.day_before_from, hour < rolled_from),
            ]
        else:
            # The hours before the first whole day, and those of the last day unless it is read
            # whole: two branches, so that an index scan stops at `day_from` instead of reading
            # the last day's rows only to filter them out (5,000 rows, ~1.5 ms, for the last day).
            branches = [
                reads.rollups(*in_hours, hour < b.day_from),
                reads.rollups(*in_hours, hour >= b.day_to, ~last_day_whole),
                *days,
            ]
    intervals = [StatementStat.interval_seconds.is_not(None)] if shape.without_first_snapshots else []
    branches.append(reads.raw(StatementStat.collected_at < b.after_first, first_cut, *intervals))
    if not shape.one_hour:
        branches.append(reads.raw(StatementStat.collected_at >= b.last, last_cut, *intervals))
    if shape.without_first_snapshots:
        branches.append(
            select(
                StatementStat.fingerprint,
                StatementStat.collected_at.label("at"),
                *(-getattr(StatementStat, name) for name in SUMMED),
            ).where(
                # Found through `snapshots` (one row per snapshot), not by reading every raw row of
                # the range for the few without an interval: 2.3 s for a week of 2,000 statements
                # that way.
                *reads.in_range(
                    of_snapshots=[
                        Snapshot.collected_at >= rolled_from,
                        Snapshot.collected_at < rolled_to + ROLLUP_BUCKET,
                        Snapshot.interval_seconds.is_(None),
                    ],
                ),
                StatementStat.interval_seconds.is_(None),
            )
        )
    if fingerprints is not None:
        # In every branch, not around the union: PostgreSQL does not push a semi-join into a
        # UNION ALL, and the whole range would be read to keep 20 statements (0.4 s for 7 days).
        branches = [
            branch.where(branch.selected_columns.fingerprint.in_(fingerprints)) for branch in branches
        ]
    return union_all(*branches)


__all__ = [
    "SUMMED",
    "DaysShape",
    "RangeBinds",
    "RangeShape",
    "RangeValues",
    "counters_union",
    "named_binds",
    "params",
    "plan_range",
    "valued_binds",
]
