"""The SQL text of the statement time series that ingestion writes: a batch's raw interval rows,
their hourly rollups and, for hours already folded, their daily rollups (see daily_folds).

`statement_rollups` and `statement_daily_rollups` have the same columns: (tenant, database,
bucket, fingerprint) as the key, `samples` (how many raw rows were added up) and every counter.
Adding to a row that exists adds each counter and the samples; a sum of int8 is numeric and is
stored back into int8 (an overflow fails, as the + does).
"""

from __future__ import annotations

import functools
from typing import Literal

from sqlalchemy import TextClause, text

from control_plane.ingestion.batch_rows import BATCH_ROWS_TABLE
from control_plane.ingestion.statement_rows import COUNTER_FIELDS

COUNTER_COLUMNS = ", ".join(COUNTER_FIELDS)
SUMS = ", ".join(f"sum({name})" for name in COUNTER_FIELDS)
_ADD_COUNTERS = ", ".join(f"{name} = r.{name} + excluded.{name}" for name in COUNTER_FIELDS)


# One statement for the raw interval rows and their hours' rollups (and days' for an hour already
# folded, see daily_folds), for a batch of snapshots of one database (see inbox_worker): `n` holds
# each snapshot's own values, `r` every statement row with the ordinal `k` of its snapshot, copied
# into the batch's temporary table (see batch_rows). A rollup whose bucket two snapshots of the
# batch share adds them up first: four snapshots of one hour are one upsert per statement, not four
# (an upsert of 5,000 rows is ~26 ms of the ~110 ms a snapshot cost PostgreSQL with the daily one).
# Where no bucket repeats (always for a batch of one) the rows go in as they are: the aggregation's
# sort and sums cost ~15 ms a rollup for nothing. Upserted in (bucket, fingerprint) order, so that
# two batches of one database lock rollup rows in the same order (the rows come sorted that way,
# which PostgreSQL's sort notices at once).
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
          FROM {BATCH_ROWS_TABLE} AS r JOIN n ON n.k = r.k
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
