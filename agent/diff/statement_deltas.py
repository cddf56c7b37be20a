"""Per-interval deltas of pg_stat_statements counters from two consecutive polls.

pg_stat_statements only offers counters accumulated since an entry was created, and entries vanish
and come back (pg_stat_statements_reset, eviction when pg_stat_statements.max is reached). A naive
subtraction then yields negative or inflated numbers; this module decides, per entry, which counters
belong to the interval, and never produces a negative value.

This runs over thousands of entries every cycle, so the Counters methods are written out field by
field: no getattr loops, no intermediate objects, one allocation per reported delta at most.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NamedTuple


class StatementKey(NamedTuple):
    """What identifies one pg_stat_statements entry."""

    userid: int
    dbid: int
    queryid: int
    toplevel: bool


@dataclass(frozen=True, slots=True)
class Counters:
    """The StatementCounters fields of shared/wire/snapshot.py, as a cheap internal value."""

    calls: int = 0
    rows: int = 0
    total_exec_time_ms: float = 0.0
    total_plan_time_ms: float = 0.0
    shared_blks_hit: int = 0
    shared_blks_read: int = 0
    shared_blks_dirtied: int = 0
    shared_blks_written: int = 0
    local_blks_hit: int = 0
    local_blks_read: int = 0
    temp_blks_read: int = 0
    temp_blks_written: int = 0
    blk_read_time_ms: float = 0.0
    blk_write_time_ms: float = 0.0
    wal_bytes: int = 0

    def minus(self, earlier: Counters) -> Counters:
        """Field-wise difference; callers check went_backwards_from first, as this does not clamp."""
        return Counters(
            self.calls - earlier.calls,
            self.rows - earlier.rows,
            self.total_exec_time_ms - earlier.total_exec_time_ms,
            self.total_plan_time_ms - earlier.total_plan_time_ms,
            self.shared_blks_hit - earlier.shared_blks_hit,
            self.shared_blks_read - earlier.shared_blks_read,
            self.shared_blks_dirtied - earlier.shared_blks_dirtied,
            self.shared_blks_written - earlier.shared_blks_written,
            self.local_blks_hit - earlier.local_blks_hit,
            self.local_blks_read - earlier.local_blks_read,
            self.temp_blks_read - earlier.temp_blks_read,
            self.temp_blks_written - earlier.temp_blks_written,
            self.blk_read_time_ms - earlier.blk_read_time_ms,
            self.blk_write_time_ms - earlier.blk_write_time_ms,
            self.wal_bytes - earlier.wal_bytes,
        )

    def plus(self, other: Counters) -> Counters:
        return Counters(
            self.calls + other.calls,
            self.rows + other.rows,
            self.total_exec_time_ms + other.total_exec_time_ms,
            self.total_plan_time_ms + other.total_plan_time_ms,
            self.shared_blks_hit + other.shared_blks_hit,
            self.shared_blks_read + other.shared_blks_read,
            self.shared_blks_dirtied + other.shared_blks_dirtied,
            self.shared_blks_written + other.shared_blks_written,
            self.local_blks_hit + other.local_blks_hit,
            self.local_blks_read + other.local_blks_read,
            self.temp_blks_read + other.temp_blks_read,
            self.temp_blks_written + other.temp_blks_written,
            self.blk_read_time_ms + other.blk_read_time_ms,
            self.blk_write_time_ms + other.blk_write_time_ms,
            self.wal_bytes + other.wal_bytes,
        )

    def went_backwards_from(self, earlier: Counters) -> bool:
        """True when any counter decreased: cumulative counters only do that after a reset."""
        return (
            self.calls < earlier.calls
            or self.rows < earlier.rows
            or self.total_exec_time_ms < earlier.total_exec_time_ms
            or self.total_plan_time_ms < earlier.total_plan_time_ms
            or self.shared_blks_hit < earlier.shared_blks_hit
            or self.shared_blks_read < earlier.shared_blks_read
            or self.shared_blks_dirtied < earlier.shared_blks_dirtied
            or self.shared_blks_written < earlier.shared_blks_written
            or self.local_blks_hit < earlier.local_blks_hit
            or self.local_blks_read < earlier.local_blks_read
            or self.temp_blks_read < earlier.temp_blks_read
            or self.temp_blks_written < earlier.temp_blks_written
            or self.blk_read_time_ms < earlier.blk_read_time_ms
            or self.blk_write_time_ms < earlier.blk_write_time_ms
            or self.wal_bytes < earlier.wal_bytes
        )


@dataclass(frozen=True)
class StatementDiff:
    """What happened between two polls.

    kind: "delta" when the counters cover the interval between the polls; "since_reset" when there was
    no previous poll, so they cover everything since statistics were last reset.
    deltas: only entries with at least one call in the interval.
    reset_detected: the whole view was reset, or at least one entry went backwards.
    entries_reset: entries present in both polls whose counters went backwards (reset individually, or
    evicted and re-created); their current counters are reported as the interval's.
    """

    kind: Literal["delta", "since_reset"]
    deltas: dict[StatementKey, Counters]
    reset_detected: bool
    entries_reset: int


def diff_statements(
    previous: Mapping[StatementKey, Counters] | None,
    current: Mapping[StatementKey, Counters],
    *,
    previous_stats_reset: datetime | None = None,
    current_stats_reset: datetime | None = None,
) -> StatementDiff:
    """Turn two polls of pg_stat_statements into the counters of the interval between them.

    previous_stats_reset/current_stats_reset are pg_stat_statements_info.stats_reset (1.9 and later);
    pass None when unknown.
    """
    if previous is None:
        return StatementDiff(
            kind="since_reset",
            deltas={key: counters for key, counters in current.items() if counters.calls > 0},
            reset_detected=False,
            entries_reset=0,
        )

    # Any change, not only a later timestamp: an earlier one means a different server answered (a
    # failover, a restored backup), whose counters are no continuation of ours either.
    view_reset = (
        previous_stats_reset is not None
        and current_stats_reset is not None
        and current_stats_reset != previous_stats_reset
    )
    deltas: dict[StatementKey, Counters] = {}
    entries_reset = 0
    previous_get = previous.get  # hoisted: this loop runs for every entry of every poll
    for key, counters in current.items():
        earlier = previous_get(key)
        if earlier is None:
            # Created during the interval, so everything it holds happened inside it.
            if counters.calls > 0:
                deltas[key] = counters
        elif counters.went_backwards_from(earlier):
            # Reset or evicted and re-created since the last poll: what it holds now is all new, and
            # whatever it gathered between our last poll and the reset is lost for good.
            entries_reset += 1
            if counters.calls > 0:
                deltas[key] = counters
        elif view_reset:
            if counters.calls > 0:
                deltas[key] = counters
        elif counters.calls > earlier.calls:
            deltas[key] = counters.minus(earlier)
    return StatementDiff(
        kind="delta",
        deltas=deltas,
        reset_detected=view_reset or entries_reset > 0,
        entries_reset=entries_reset,
    )


def merge_counters(items: Iterable[Counters]) -> Counters:
    """Sum counters, e.g. of entries that share a fingerprint; the empty sum is all zeros."""
    total = Counters()
    for item in items:
        total = total.plus(item)
    return total
