"""What the key of `statement_stats` costs ingestion, and what each key costs the reads.

Issue 15's goal (15 snapshots/s of 5,000 statements on 2 cores, beside readers) leaves ~65 ms of
CPU per snapshot for accepting and storing it (benchmarks/ingestion_store_cost.py); storing the
raw interval rows alone took PostgreSQL about half of that, and most of it was the key. Until
migration 0021 the primary key led with the fingerprint (one statement's intervals over time were
one range of the index), so the 5,000 rows of a snapshot landed on 5,000 leaf pages scattered over
the index, and a second index on the time served a database's rows over a range. The key now leads
with the time: every snapshot's rows are appended side by side, and the same key serves the time
ranges. Reading one statement's intervals then takes an index probe per stored snapshot (found in
`snapshots`, control_plane/queries/intervals.py).

This measures both layouts on one server: a table shaped like `statement_stats` (its columns and
collation) holding HISTORY_SNAPSHOTS snapshots of 5,000 statements of one database, then
- **insert**: one more snapshot's 5,000 rows, `INSERT ... SELECT` as ingestion writes them
  (control_plane/ingestion/series_sql.py): read in fingerprint order from a table holding them so,
  with one `snapshot_id` for all of them, the median of INSERTS. (Until 2026-12-06 this drew a
  random `snapshot_id` for each row and sorted the rows in the statement, which ingestion does
  not: every insert figure read 10-11 ms high.)
- **series**: one statement's every interval over the last 6 hours (720 points), as the query page
  reads them (control_plane/queries/series.py);
- **heatmap**: 20 statements' intervals over those hours on a 15-minute grid, as the heatmap's
  sub-hour cells read them (control_plane/heatmap/repository.py).
and, for scale, the same insert into the table with no index at all (the heap's own cost).

A design figure, not a goal: no budgets. Wall time on an otherwise idle server, one connection.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from benchmarks.control_plane_ingestion import METADATA_SETTINGS, STATEMENTS
from control_plane.ingestion.statement_rows import COUNTER_FIELDS
from deploy.local.throwaway_cluster import running_cluster

HISTORY_SNAPSHOTS = 720  # 6 hours at a 30 s interval: 3.6 million rows
INSERTS = 15
READS = 9
HEATMAP_STATEMENTS = 20
TENANT = "00000000-0000-4000-8000-000000000001"
DATABASE = "00000000-0000-4000-8000-000000000002"
START = "2026-01-01 00:00:00+00"
COUNTERS = ", ".join(COUNTER_FIELDS)
_COLUMNS = (
    'tenant_id uuid NOT NULL, database_id uuid NOT NULL, fingerprint text COLLATE "C" NOT NULL,'
    " collected_at timestamptz NOT NULL, snapshot_id uuid NOT NULL, interval_seconds float8, "
    + ", ".join(f"{name} {'float8' if name.endswith('_ms') else 'int8'} NOT NULL" for name in COUNTER_FIELDS)
)
_VALUES = ", ".join(
    f"{'random() * 1000' if name.endswith('_ms') else '(random() * 1000)::int8'} AS {name}"
    for name in COUNTER_FIELDS
)


@dataclass(frozen=True)
class Layout:
    name: str
    key: str | None  # the primary key's columns
    indexes: tuple[str, ...]  # other indexes' columns
    probes: bool  # one statement's intervals are read a snapshot at a time


LAYOUTS = (
    Layout(
        "fingerprint_first",  # before migration 0021 (0001 and 0004)
        "tenant_id, database_id, fingerprint, collected_at",
        ("tenant_id, database_id, collected_at",),
        probes=False,
    ),
    Layout("time_first", "tenant_id, database_id, collected_at, fingerprint", (), probes=True),  # 0021
    Layout("no_index", None, (), probes=False),
)


def say(message: str) -> None:
    print(f"statement_stats_layout: {message}", file=sys.stderr, flush=True)


def median_ms(run: Callable[[], object], times: int) -> float:
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        run()
        spent.append(time.perf_counter() - started)
    return round(statistics.median(spent) * 1000, 1)


def at(snapshot: int | str) -> str:
    return f"'{START}'::timestamptz + interval '30 seconds' * {snapshot}"


def build(connection: psycopg.Connection[tuple[object, ...]], layout: Layout) -> None:
    """The layout's table (`raw`) with HISTORY_SNAPSHOTS snapshots of STATEMENTS statements."""
    connection.execute("DROP TABLE IF EXISTS raw")
    connection.execute(f"CREATE TABLE raw ({_COLUMNS})")
    connection.execute(
        f"INSERT INTO raw SELECT '{TENANT}', '{DATABASE}', f.fingerprint, {at('s')},"
        f" gen_random_uuid(), 30, {_VALUES}"
        f" FROM generate_series(0, {HISTORY_SNAPSHOTS - 1}) s, fingerprints f ORDER BY s, f.fingerprint"
    )
    if layout.key is not None:
        connection.execute(f"ALTER TABLE raw ADD PRIMARY KEY ({layout.key})")
    for columns in layout.indexes:
        connection.execute(f"CREATE INDEX ON raw ({columns})")
    connection.execute("VACUUM ANALYZE raw")


def measure(connection: psycopg.Connection[tuple[object, ...]], layout: Layout) -> dict[str, float]:
    build(connection, layout)
    added = iter(range(HISTORY_SNAPSHOTS, HISTORY_SNAPSHOTS + INSERTS))
    figures = {
        "insert_ms_per_snapshot": median_ms(
            lambda: connection.execute(
                f"INSERT INTO raw SELECT '{TENANT}', '{DATABASE}', fingerprint, {at(next(added))},"
                f" '{uuid.uuid4()}', 30, {COUNTERS} FROM batch"
            ),
            INSERTS,
        )
    }
    if layout.key is None:
        return figures
    one = "ARRAY['0000000000000100']"
    twenty = "ARRAY[{}]".format(", ".join(f"'{n:016x}'" for n in range(256, 256 + HEATMAP_STATEMENTS)))
    first = HISTORY_SNAPSHOTS + INSERTS - 720  # the last 720 snapshots: 6 hours
    since = at(first)
    if layout.probes:  # a probe of the key per snapshot the range holds
        rows = (
            "FROM snapshots s JOIN raw r ON r.tenant_id = s.tenant_id AND r.database_id = s.database_id"
            " AND r.collected_at = s.collected_at AND r.fingerprint = ANY({fingerprints})"
            f" WHERE s.tenant_id = '{TENANT}' AND s.database_id = '{DATABASE}' AND s.collected_at >= {since}"
        )
    else:
        rows = (
            f"FROM raw r WHERE r.tenant_id = '{TENANT}' AND r.database_id = '{DATABASE}'"
            f" AND r.fingerprint = ANY({{fingerprints}}) AND r.collected_at >= {since}"
        )
    series = f"SELECT r.collected_at, r.calls, r.total_exec_time_ms {rows.format(fingerprints=one)}"
    heatmap = (
        f"SELECT r.fingerprint, date_bin('15 minutes', r.collected_at, '{START}'), sum(r.total_exec_time_ms)"
        f" {rows.format(fingerprints=twenty)} GROUP BY 1, 2"
    )
    points = connection.execute(series).fetchall()
    cells = connection.execute(heatmap).fetchall()
    quarters = {n * 30 // 900 for n in range(first, first + 720)}  # the 15-minute cells they fall in
    if len(points) != 720 or len(cells) != HEATMAP_STATEMENTS * len(quarters):
        raise RuntimeError(f"{layout.name}: {len(points)} points and {len(cells)} cells read")
    figures["series_6h_ms"] = median_ms(lambda: connection.execute(series).fetchall(), READS)
    figures["heatmap_6h_ms"] = median_ms(lambda: connection.execute(heatmap).fetchall(), READS)
    return figures


def prepare(connection: psycopg.Connection[tuple[object, ...]]) -> None:
    """The statements (fingerprints in hex), one snapshot's rows to insert, and `snapshots`."""
    connection.execute(
        "CREATE TABLE fingerprints AS SELECT lpad(to_hex(n), 16, '0') COLLATE \"C\" AS fingerprint"
        f" FROM generate_series(1, {STATEMENTS}) n"
    )
    # In fingerprint order, as a worker copies a snapshot's rows (control_plane/ingestion/batch_rows.py).
    connection.execute(
        f"CREATE TABLE batch AS SELECT fingerprint, {_VALUES} FROM fingerprints ORDER BY fingerprint"
    )
    connection.execute(
        "CREATE TABLE snapshots (tenant_id uuid, database_id uuid, collected_at timestamptz,"
        " PRIMARY KEY (tenant_id, database_id, collected_at))"
    )
    connection.execute(
        f"INSERT INTO snapshots SELECT '{TENANT}', '{DATABASE}', {at('s')}"
        f" FROM generate_series(0, {HISTORY_SNAPSHOTS + INSERTS - 1}) s"
    )
    connection.execute("VACUUM ANALYZE fingerprints, batch, snapshots")


def main() -> list[dict[str, object]]:
    results: dict[str, dict[str, float]] = {}
    # One process per query, as the API's are: a parallel plan is the machine's other core's work.
    with (
        running_cluster({**METADATA_SETTINGS, "max_parallel_workers_per_gather": "0"}) as cluster,
        psycopg.connect(cluster.create_database("layout"), autocommit=True) as connection,
    ):
        prepare(connection)
        for layout in LAYOUTS:
            say(f"{layout.name}: {HISTORY_SNAPSHOTS} snapshots of {STATEMENTS} statements")
            results[layout.name] = measure(connection, layout)
            say(f"{layout.name}: {results[layout.name]}")
    return [
        {"name": f"statement_stats_{name}_{figure}", "value": value, "unit": "ms", "budget": None}
        for name, figures in results.items()
        for figure, value in figures.items()
    ]


if __name__ == "__main__":
    print(json.dumps({"benchmarks": main()}, indent=2))
