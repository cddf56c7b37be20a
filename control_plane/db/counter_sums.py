"""Adding up pg_stat_statements counters in SQL: bigint counters as bigint, times as doubles.

PostgreSQL's `sum(bigint)` is numeric: each group keeps a 128-bit state allocated apart, and each
result is built as a numeric (and, where it is stored, cast back to bigint). `optischema_int8_sum`
(migration 0022) is the bigint `+` as an aggregate: NULLs skipped and NULL for no rows as `sum`'s,
and an overflow past 9.2e18 is an error. A counter cannot get near that: a year of a statement
hitting 100 million buffers a second (800 GB/s) is 3e15 hits. Only forged counters can: ingestion
then fails the batch, as storing the numeric sum into a bigint column did, and top queries read
the range again with numeric sums (queries/repository.py). Measured on the 2-core reference
machine (2026-12-06): top queries over 5,000 statements, 13.0 -> 9.2 ms of PostgreSQL (median of
21); a batch of 8 snapshots of one hour, 40,000 raw rows summed into 5,000 rollup rows, 34 -> 26 ms,
and its hash table 6.4 -> 2.0 MB, which at the default work_mem decides whether it spills to disk.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import BigInteger, ColumnElement, func

from shared.wire.snapshot import StatementCounters

INT8_SUM: Final = "optischema_int8_sum"


def is_integer_counter(name: str) -> bool:
    return StatementCounters.model_fields[name].annotation is int


def counter_sum_sql(name: str) -> str:
    """The counter `name` summed, in SQL text, under its own name."""
    return f"{INT8_SUM if is_integer_counter(name) else 'sum'}({name}) AS {name}"


def counter_sum(name: str, column: Any, exact: bool = False) -> ColumnElement[Any]:
    """The counter `name`'s `column` summed, as a SQLAlchemy expression; `exact`: as numeric,
    whatever its type (a sum that may pass what a bigint holds)."""
    if is_integer_counter(name) and not exact:
        summed: ColumnElement[Any] = getattr(func, INT8_SUM)(column, type_=BigInteger)
        return summed
    return func.sum(column)
