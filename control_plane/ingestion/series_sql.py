"""The SQL text of the statement time series that ingestion writes: a batch's raw interval rows,
their hourly rollups and, for hours already folded, their daily rollups (see daily_folds).

`statement_rollups` and `statement_daily_rollups` have the same columns: (tenant, database,
bucket, fingerprint) as the key, `samples` (how many raw rows were added up) and every counter.
Adding to a row that exists adds each counter and the samples; the bigint counters are added up as
bigint (control_plane.db.counter_sums), and an overflow fails, as the + does.
"""

from __future__ import annotations

import functools
from typing import Literal

from sqlalchemy import TextClause, text

from control_plane.db.counter_sums import counter_sum_sql
from control_plane.ingestion.batch_rows import BATCH_ROWS_TABLE
from control_plane.ingestion.statement_rows import COUNTER_FIELDS

COUNTER_COLUMNS = ", ".join(COUNTER_FIELDS)
# Each counter summed, under its own name (a select list the rows of a rollup can be read from).
SUMS = ", ".join(map(counter_sum_sql, COUNTER_FIELDS))
_A_COUNTERS = ", ".join(f"a.{name}" for name in COUNTER_FIELDS)


def _added(source: str) -> str:
    """SET items adding each counter of the row `source` to the rollup row `r`'s."""
    return ", ".join(f"{name} = r.{name} + {source}.{name}" for name in COUNTER_FIELDS)


# One statement for the raw interval rows and their hours' rollups (and days' for an hour already
# folded, see daily_folds), for a batch of snapshots of one database (see inbox_worker): `r` holds
# every statement row with the ordinal `k` of its snapshot, copied into the batch's temporary table
# (see batch_rows), and `s` each row with its snapshot's own values, taken from the parameters'
# arrays by that ordinal. `s` is read by the raw rows and by the rollups. NOT MATERIALIZED: a CTE
# read twice is otherwise written out to a tuplestore first, all 5,000 rows of 21 columns, and read
# back from it twice; taking the values again is cheaper. PostgreSQL CPU per snapshot stored alone
# 57 -> 48 ms, in batches of 4 40 -> 37 ms (ingestion_store_cost). The values were joined in from
# the arrays unnested (a hash join of each read of `s`, ~12 ms for a batch of 8); taken by subscript
# (an array's element of fixed width is found by its offset), batches of 8 cost PostgreSQL 41.0 and
# 42.8 ms a snapshot before, 39.0 and 39.9 after (2026-12-06). A rollup whose bucket two snapshots of the
# batch share adds them up first: four snapshots of one hour are one update per statement, not four.
# Where no bucket repeats (always for a batch of one) the rows go in as they are: the aggregation's
# sort and sums cost ~15 ms a rollup for nothing.
#
# The rows a rollup has already (all but the hour's first snapshot's) are updated through a join,
# and only the others are inserted: an upsert of every row took 23 ms for 5,000 statements, where
# the join's update takes 12 (the upsert probes the key for a conflict, then locks the row it found
# and only then updates it; the join updates each row as its index lookup finds it). Both are HOT
# updates (the partitions' fillfactor).
#
# The update names the batch's buckets (`r.bucket = ANY`) besides joining on them: the planner then
# keeps only their day's partition and reads the hour's rows by the key. Joined alone, it read
# every rollup row of the database, of every partition retained (400 days of 5,000 statements an
# hour is ~48 million rows), and locked every partition.
#
# Two such statements of one database at once could deadlock (see DailyFoldRepository.hold): a
# database's batches are stored one transaction at a time, and ON CONFLICT is there for a writer
# that does not take turns (a replica of an earlier version during an upgrade).
def _add_to(table: str, bucket: str, summed: bool, buckets: str) -> tuple[str, str]:
    """The CTEs (text to follow a comma) and the final INSERT that add the batch's rows whose
    `bucket` is set to the rollup `table`; the parameter `buckets` lists their distinct buckets."""
    rows = (
        f"SELECT {bucket} AS bucket, fingerprint, count(*) AS samples, {SUMS}"
        f" FROM s WHERE {bucket} IS NOT NULL GROUP BY {bucket}, fingerprint ORDER BY {bucket}, fingerprint"
        if summed
        else f"SELECT {bucket} AS bucket, fingerprint, 1 AS samples, {COUNTER_COLUMNS}"
        f" FROM s WHERE {bucket} IS NOT NULL ORDER BY {bucket}, fingerprint"
    )
    ctes = f"""
    {table}_rows AS ({rows}
    ), {table}_updated AS (
        UPDATE {table} AS r SET samples = r.samples + a.samples, {_added("a")}
          FROM {table}_rows AS a
         WHERE r.tenant_id = :tenant_id AND r.database_id = :database_id AND r.bucket = ANY(:{buckets})
           AND r.bucket = a.bucket AND r.fingerprint = a.fingerprint
        RETURNING r.bucket, r.fingerprint
    )"""
    insert = f"""
        INSERT INTO {table} AS r (tenant_id, database_id, bucket, fingerprint, samples, {COUNTER_COLUMNS})
        SELECT :tenant_id, :database_id, a.bucket, a.fingerprint, a.samples, {_A_COUNTERS}
          FROM {table}_rows AS a
         WHERE NOT EXISTS (SELECT FROM {table}_updated AS u
                            WHERE u.bucket = a.bucket AND u.fingerprint = a.fingerprint)
         ORDER BY a.bucket, a.fingerprint
        ON CONFLICT (tenant_id, database_id, bucket, fingerprint)
        DO UPDATE SET samples = r.samples + excluded.samples, {_added("excluded")}"""
    return ctes, insert


# What the batch adds to the daily rollups: nothing (every hour in it still to be folded, the
# common case), or its rows of folded hours (`days` is NULL for the others) as they are or summed.
DailyPart = Literal["none", "rows", "summed"]


_BATCH_ROWS = f"""
    s AS NOT MATERIALIZED (
        SELECT (CAST(:collected_ats AS timestamptz[]))[r.k::int4] AS collected_at,
               (CAST(:snapshot_ids AS uuid[]))[r.k::int4] AS snapshot_id,
               (CAST(:intervals AS float8[]))[r.k::int4] AS interval_seconds,
               (CAST(:buckets AS timestamptz[]))[r.k::int4] AS bucket,
               (CAST(:days AS timestamptz[]))[r.k::int4] AS day, r.*
          FROM {BATCH_ROWS_TABLE} AS r
    ), raw AS (
        INSERT INTO statement_stats
               (tenant_id, database_id, fingerprint, collected_at, snapshot_id, interval_seconds, {COUNTER_COLUMNS})
        SELECT :tenant_id, :database_id, fingerprint, collected_at, snapshot_id, interval_seconds, {COUNTER_COLUMNS}
          FROM s
    )"""


@functools.cache
def insert_stats_and_rollups(hours_summed: bool, daily: DailyPart) -> TextClause:
    hourly_ctes, hourly = _add_to("statement_rollups", "bucket", hours_summed, "hours")
    if daily == "none":
        return text(f"WITH {_BATCH_ROWS},{hourly_ctes}{hourly}")
    daily_ctes, days = _add_to("statement_daily_rollups", "day", daily == "summed", "folded_days")
    return text(f"WITH {_BATCH_ROWS},{hourly_ctes}, hourly AS ({hourly}\n    ),{daily_ctes}{days}")
