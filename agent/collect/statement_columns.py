"""Which pg_stat_statements columns feed each StatementCounters field, whatever the extension version.

The view's shape follows the *extension* version, not the server major: pg_upgrade keeps the old
extension version until someone runs ALTER EXTENSION ... UPDATE, so a PostgreSQL 17 server can still
expose the 1.7 columns. The agent therefore probes the view's columns and maps whatever it finds.
Pure: no database access here, so every version can be tested without its server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

# 1.3 to 1.7 (PostgreSQL 9.5 to 12) share one view; 1.4 to 1.7 only changed functions and grants.
_V1_7 = frozenset(
    {
        "userid", "dbid", "queryid", "query", "calls",
        "total_time", "min_time", "max_time", "mean_time", "stddev_time", "rows",
        "shared_blks_hit", "shared_blks_read", "shared_blks_dirtied", "shared_blks_written",
        "local_blks_hit", "local_blks_read", "local_blks_dirtied", "local_blks_written",
        "temp_blks_read", "temp_blks_written", "blk_read_time", "blk_write_time",
    }
)  # fmt: skip
# PostgreSQL 13: planning is tracked apart from execution, and WAL usage appears.
_V1_8 = (_V1_7 - {"total_time", "min_time", "max_time", "mean_time", "stddev_time"}) | {
    "plans", "total_plan_time", "min_plan_time", "max_plan_time", "mean_plan_time", "stddev_plan_time",
    "total_exec_time", "min_exec_time", "max_exec_time", "mean_exec_time", "stddev_exec_time",
    "wal_records", "wal_fpi", "wal_bytes",
}  # fmt: skip
# PostgreSQL 14: nested statements get their own entries (pg_stat_statements_info also arrives).
_V1_9 = _V1_8 | {"toplevel"}
# PostgreSQL 15 and 16 (16 did not bump the extension).
_V1_10 = _V1_9 | {
    "temp_blk_read_time", "temp_blk_write_time",
    "jit_functions", "jit_generation_time", "jit_inlining_count", "jit_inlining_time",
    "jit_optimization_count", "jit_optimization_time", "jit_emission_count", "jit_emission_time",
}  # fmt: skip
# PostgreSQL 17: block I/O time is split into shared and local, plus per-entry timestamps.
_V1_11 = (_V1_10 - {"blk_read_time", "blk_write_time"}) | {
    "shared_blk_read_time", "shared_blk_write_time", "local_blk_read_time", "local_blk_write_time",
    "jit_deform_count", "jit_deform_time", "stats_since", "minmax_stats_since",
}  # fmt: skip

# PostgreSQL 18: WAL buffers filled and parallel workers planned and launched. Nothing the wire
# carries yet: the mapping below simply finds its columns unchanged.
_V1_12 = _V1_11 | {"wal_buffers_full", "parallel_workers_to_launch", "parallel_workers_launched"}

PGSS_COLUMNS_BY_VERSION: Mapping[str, frozenset[str]] = MappingProxyType(
    {"1.7": _V1_7, "1.8": _V1_8, "1.9": _V1_9, "1.10": _V1_10, "1.11": _V1_11, "1.12": _V1_12}
)

_INT_ZERO = "0::bigint"
_FLOAT_ZERO = "0::float8"


@dataclass(frozen=True)
class _CounterSource:
    """How to fill one StatementCounters field: the first candidate whose columns all exist wins."""

    name: str
    candidates: tuple[tuple[frozenset[str], str], ...]
    zero: str


def _plain(name: str, zero: str = _INT_ZERO) -> _CounterSource:
    return _CounterSource(name, ((frozenset({name}), name),), zero)


def _renamed(name: str, zero: str, *candidates: tuple[tuple[str, ...], str]) -> _CounterSource:
    return _CounterSource(name, tuple((frozenset(cols), expr) for cols, expr in candidates), zero)


# In the order of StatementCounters; a test keeps the two in step.
_COUNTER_SOURCES: tuple[_CounterSource, ...] = (
    _plain("calls"),
    _plain("rows"),
    # Before 1.8 planning was not measured at all, so total_time is execution time only.
    _renamed(
        "total_exec_time_ms",
        _FLOAT_ZERO,
        (("total_exec_time",), "total_exec_time AS total_exec_time_ms"),
        (("total_time",), "total_time AS total_exec_time_ms"),
    ),
    _renamed(
        "total_plan_time_ms", _FLOAT_ZERO, (("total_plan_time",), "total_plan_time AS total_plan_time_ms")
    ),
    _plain("shared_blks_hit"),
    _plain("shared_blks_read"),
    _plain("shared_blks_dirtied"),
    _plain("shared_blks_written"),
    _plain("local_blks_hit"),
    _plain("local_blks_read"),
    _plain("temp_blks_read"),
    _plain("temp_blks_written"),
    # 1.11 split the old blk_*_time (which counted shared and local blocks together) in two; the
    # sum keeps the meaning stable across versions. temp_blk_*_time was never part of it.
    _renamed(
        "blk_read_time_ms",
        _FLOAT_ZERO,
        (
            ("shared_blk_read_time", "local_blk_read_time"),
            "shared_blk_read_time + local_blk_read_time AS blk_read_time_ms",
        ),
        (("blk_read_time",), "blk_read_time AS blk_read_time_ms"),
    ),
    _renamed(
        "blk_write_time_ms",
        _FLOAT_ZERO,
        (
            ("shared_blk_write_time", "local_blk_write_time"),
            "shared_blk_write_time + local_blk_write_time AS blk_write_time_ms",
        ),
        (("blk_write_time",), "blk_write_time AS blk_write_time_ms"),
    ),
    # numeric in the view; bigint keeps the Python side an int instead of a Decimal.
    _renamed("wal_bytes", _INT_ZERO, (("wal_bytes",), "coalesce(wal_bytes, 0)::bigint AS wal_bytes")),
)

# Without these there is nothing worth diffing; every other counter can honestly read as zero.
_REQUIRED_COLUMNS: tuple[str, ...] = ("userid", "dbid", "queryid", "calls", "rows")
_TOTAL_TIME_COLUMNS: tuple[str, ...] = ("total_exec_time", "total_time")


@dataclass(frozen=True)
class StatementColumnMapping:
    """A select list over pg_stat_statements whose output names are the StatementCounters fields.

    Output order: userid, dbid, queryid, toplevel, then `counter_names`.
    """

    select_list: str
    counter_names: tuple[str, ...]
    has_toplevel: bool


def statement_column_mapping(available_columns: Iterable[str]) -> StatementColumnMapping:
    """Map the columns the view actually has (e.g. from pg_attribute) to the wire counters.

    Raises ValueError naming what is missing when not even the key, calls, rows and a total time exist.
    """
    columns = frozenset(available_columns)
    missing = [name for name in _REQUIRED_COLUMNS if name not in columns]
    if not columns.intersection(_TOTAL_TIME_COLUMNS):
        missing.append(" or ".join(_TOTAL_TIME_COLUMNS))
    if missing:
        found = ", ".join(sorted(columns)) or "no columns"
        raise ValueError(f"pg_stat_statements lacks required column(s) {', '.join(missing)}; found: {found}")

    has_toplevel = "toplevel" in columns
    # Before 1.9 one entry covered top-level and nested executions alike; most run at top level.
    expressions = ["userid", "dbid", "queryid", "toplevel" if has_toplevel else "true AS toplevel"]
    for source in _COUNTER_SOURCES:
        expressions.append(_expression_for(source, columns))
    return StatementColumnMapping(
        select_list=", ".join(expressions),
        counter_names=tuple(source.name for source in _COUNTER_SOURCES),
        has_toplevel=has_toplevel,
    )


def _expression_for(source: _CounterSource, columns: frozenset[str]) -> str:
    for needed, expression in source.candidates:
        if needed <= columns:
            return expression
    # A typed zero, so that every version yields the same result types.
    return f"{source.zero} AS {source.name}"
