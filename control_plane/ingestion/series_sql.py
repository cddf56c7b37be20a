"""The SQL text of the statement time series that ingestion writes: a batch's raw interval rows,
their hourly rollups and, for hours already folded, their daily rollups (see daily_folds).

`statement_rollups` and `statement_daily_rollups` have the same columns: (tenant, database,
bucket, fingerprint) as the key, `samples` (how many raw rows were added up) and every counter.
Adding to a row that exists adds each counter and the samples; a sum of int8 is numeric and is
stored back into int8 (an overflow fails, as the + does).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from typing import Literal

import msgspec
from sqlalchemy import TextClause, text

from control_plane.ingestion.statement_rows import COUNTER_FIELDS, StatementCounterRow

COUNTER_COLUMNS = ", ".join(COUNTER_FIELDS)
SUMS = ", ".join(f"sum({name})" for name in COUNTER_FIELDS)
_ADD_COUNTERS = ", ".join(f"{name} = r.{name} + excluded.{name}" for name in COUNTER_FIELDS)


_LITERAL_COLUMNS = tuple(
    (name, operator.attrgetter(field))
    for name, field in (("fingerprints", "fingerprint"), *((name, name) for name in COUNTER_FIELDS))
)
_JSON = msgspec.json.Encoder()
_FINGERPRINT = operator.attrgetter("fingerprint")


def array_literals(batch: list[Sequence[StatementCounterRow]]) -> dict[str, str]:
    """`ks` (each row's snapshot, from 1), `fingerprints` and each counter, as PostgreSQL array
    literals, the batch's snapshots one after the other, each in its statements' order.

    A JSON array of numbers or of plain strings is a PostgreSQL array literal once its brackets are
    braces: msgspec writes one in C (~4 ms for 5,000 rows, where `str` on each value took ~12 ms).
    Fingerprints are 16 hex digits and counters finite numbers (both validated), whose text
    PostgreSQL reads back exactly (the shortest text that round-trips a float, as Python's).
    """
    # Each snapshot's rows in fingerprint order: the rollups' upserts then need no real sort.
    ordered = [sorted(statements, key=_FINGERPRINT) for statements in batch]
    rows = [row for statements in ordered for row in statements]
    literals = {
        name: "{" + _JSON.encode(list(map(column, rows)))[1:-1].decode() + "}"
        for name, column in _LITERAL_COLUMNS
    }
    ks = [k for k, statements in enumerate(ordered, start=1) for _ in statements]
    return {"ks": "{" + _JSON.encode(ks)[1:-1].decode() + "}", **literals}


def _sql_type(counter: str) -> str:
    return "float8" if counter.endswith("_ms") else "int8"


_UNNEST_COUNTERS = ", ".join(f"CAST(CAST(:{name} AS text) AS {_sql_type(name)}[])" for name in COUNTER_FIELDS)


# One statement for the raw interval rows and their hours' rollups (and days' for an hour already
# folded, see daily_folds), so the arrays travel once, for a batch of snapshots of one database
# (see inbox_worker): `n` holds each snapshot's own values, `r` every statement row with the
# ordinal `k` of its snapshot. A rollup whose bucket two snapshots of the batch share adds them up
# first: four snapshots of one hour are one upsert per statement, not four (an upsert of 5,000
# rows is ~26 ms of the ~110 ms a snapshot cost PostgreSQL with the daily one). Where no bucket
# repeats (always for a batch of one) the rows go in as they are: the aggregation's sort and sums
# cost ~15 ms a rollup for nothing. Upserted in (bucket, fingerprint) order, so that two batches of
# one database lock rollup rows in the same order (the rows come sorted that way, which
# PostgreSQL's sort notices at once).
def _add_to(table: str, bucket: str, summed: bool) -> str:
    """The batch's rows whose `bucket` is set, added to the rollup `table`."""
    rows = (
        f"SELECT :tenant_id, :database_id, {bucket}, fingerprint, count(*), {SUMS}"
        f" FROM s WHERE {bucket} IS NOT NULL GROUP BY {bucket}, fingerprint ORDER BY {bucket}, fingerprint"
        if summed
        else f"SELECT :tenant_id, :database_id, {bucket}, fingerprint, 1, {COUNTER_COLUMNS}"
        f" FROM s WHERE {bucket} IS NOT NULL ORDER BY {bucket}, fingerprint"
    )
    return f"""
        INSERT INTO {table} AS r (tenant_id, database_id, bucket, fingerprint, samples, {COUNTER_COLUMNS})
        {rows}
        ON CONFLICT (tenant_id, database_id, bucket, fingerprint)
        DO UPDATE SET samples = r.samples + excluded.samples, {_ADD_COUNTERS}"""


# What the batch adds to the daily rollups: nothing (every hour in it still to be folded, the
# common case), or its rows of folded hours (`days` is NULL for the others) as they are or summed.
DailyPart = Literal["none", "rows", "summed"]


_BATCH_ROWS = f"""
    n AS (
        SELECT * FROM unnest(CAST(:collected_ats AS timestamptz[]), CAST(:snapshot_ids AS uuid[]),
                             CAST(:intervals AS float8[]), CAST(:buckets AS timestamptz[]),
                             CAST(:days AS timestamptz[]))
                 WITH ORDINALITY AS n(collected_at, snapshot_id, interval_seconds, bucket, day, k)
    ), s AS (
        SELECT n.collected_at, n.snapshot_id, n.interval_seconds, n.bucket, n.day, r.*
          FROM unnest(CAST(CAST(:ks AS text) AS int8[]), CAST(CAST(:fingerprints AS text) AS text[]),
                      {_UNNEST_COUNTERS}) AS r(k, fingerprint, {COUNTER_COLUMNS})
          JOIN n ON n.k = r.k
    ), raw AS (
        INSERT INTO statement_stats
               (tenant_id, database_id, fingerprint, collected_at, snapshot_id, interval_seconds, {COUNTER_COLUMNS})
        SELECT :tenant_id, :database_id, fingerprint, collected_at, snapshot_id, interval_seconds, {COUNTER_COLUMNS}
          FROM s
    )"""


@functools.cache
def insert_stats_and_rollups(hours_summed: bool, daily: DailyPart) -> TextClause:
    hourly = _add_to("statement_rollups", "bucket", hours_summed)
    if daily == "none":
        return text(f"WITH {_BATCH_ROWS}{hourly}")
    days = _add_to("statement_daily_rollups", "day", daily == "summed")
    return text(f"WITH {_BATCH_ROWS}, hourly AS ({hourly}\n    ){days}")
