"""The SQL text that adds statement rows to a rollup table, shared by ingestion and the daily fold.

`statement_rollups` and `statement_daily_rollups` have the same columns: (tenant, database,
bucket, fingerprint) as the key, `samples` (how many raw rows were added up) and every counter.
Adding to a row that exists adds each counter and the samples; a sum of int8 is numeric and is
stored back into int8 (an overflow fails, as the + does).
"""

from __future__ import annotations

from control_plane.ingestion.statement_rows import COUNTER_FIELDS

COUNTER_COLUMNS = ", ".join(COUNTER_FIELDS)
SUMS = ", ".join(f"sum({name})" for name in COUNTER_FIELDS)
_ADD_COUNTERS = ", ".join(f"{name} = r.{name} + excluded.{name}" for name in COUNTER_FIELDS)


def add_to_rollup(table: str, rows: str) -> str:
    """`INSERT ... ON CONFLICT DO UPDATE` of `rows` (a SELECT of tenant_id, database_id, bucket,
    fingerprint, samples and the counters, in that order) into the rollup `table`."""
    return f"""
        INSERT INTO {table} AS r (tenant_id, database_id, bucket, fingerprint, samples, {COUNTER_COLUMNS})
        {rows}
        ON CONFLICT (tenant_id, database_id, bucket, fingerprint)
        DO UPDATE SET samples = r.samples + excluded.samples, {_ADD_COUNTERS}"""
