"""The risk of an index change, for the card beside its evidence: the lock it takes, the size of the
index and the time building it takes, and how many rows a second the table's writers change.

The size of a new index is estimated the way HypoPG estimates it (hypopg_relation_size), from the
latest snapshot's table statistics: one B-tree entry per row, of the key columns' average widths
plus the entry's header, on leaf pages filled to the B-tree's default 90%. PostgreSQL 13 and later
deduplicate equal keys, so an index on a key with many duplicates comes out smaller: the figure is an
upper bound. Measured here (PostgreSQL 15, 2,000,000 rows; customer_id has 100,000 distinct values,
status 4): (customer_id, status) was 29 MB built, 81 MB by this estimate, 107 MB by HypoPG's;
(status, amount), with few duplicates, 72 MB built and 63 MB by this estimate.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.models import Recommendation
from control_plane.recommendations.risk_repository import RiskReadings, WritesMeasured
from control_plane.recommendations.schemas import RecommendationRisk
from control_plane.tenancy.context import TenantContext
from shared.sql.ddl_allow_list import DdlRefused, admit_ddl
from shared.wire.snapshot import IndexStats, TableStats

INDEX_KINDS = frozenset({"create_index", "drop_index"})

CREATE_LOCK = (
    "SHARE UPDATE EXCLUSIVE on the table (CREATE INDEX CONCURRENTLY): reads and writes continue; the build "
    "first waits for transactions already using the table, and VACUUM, ANALYZE and other schema changes "
    "on the table wait for the build"
)
DROP_LOCK = (
    "SHARE UPDATE EXCLUSIVE on the table, then ACCESS EXCLUSIVE on the index alone (DROP INDEX "
    "CONCURRENTLY): reads and writes continue; it waits for transactions using the index to finish"
)

# Index bytes built per second by CREATE INDEX CONCURRENTLY: 8 MiB/s. Measured on this project's
# 2-core test machine (PostgreSQL 15, other tests running, a 210 MB table of 2,000,000 rows): the
# three indexes built in 2.2 s (29 MB), 2.4 s (16 MB) and 8.4 s (72 MB; a text key sorts slowly),
# 6.6 to 13 MB/s of built index, and 7 to 37 MB/s of the size estimated here. The slow end was kept:
# the figure is for deciding when to run the change, and an estimate that errs long is the safe one.
# The time is really spent on two scans of the table and a sort, which the index size only tracks.
BUILD_BYTES_PER_SECOND = 8 * 1024 * 1024
# The write rate is measured over the snapshots of the hour up to the latest one: long enough to
# smooth out a burst, short enough to be today's workload.
WRITES_WINDOW = timedelta(hours=1)

# B-tree layout (src/include/storage/bufpage.h, access/nbtree.h): 8 kB pages with a 24-byte header
# and 16 bytes of B-tree special space; each entry has an 8-byte IndexTupleData header, its data
# aligned to 8 bytes (MAXALIGN), and a 4-byte line pointer. Leaves are filled to 90% (the default
# fillfactor) by a build; inner pages hold one entry per page below them.
PAGE_BYTES = 8192
PAGE_USABLE_BYTES = PAGE_BYTES - 24 - 16
LEAF_FILL = 0.90
ENTRY_HEADER_BYTES = 8
LINE_POINTER_BYTES = 4
ALIGN_BYTES = 8


def _aligned(size: float) -> int:
    return int(math.ceil(size / ALIGN_BYTES) * ALIGN_BYTES)


def btree_bytes(rows: float, key_width: float) -> int:
    """The size of a freshly built B-tree of `rows` entries of `key_width` bytes of key data."""
    entry = _aligned(ENTRY_HEADER_BYTES + key_width) + LINE_POINTER_BYTES
    per_leaf = max(1, int(PAGE_USABLE_BYTES * LEAF_FILL // entry))
    per_inner = max(2, PAGE_USABLE_BYTES // entry)
    pages = level = max(1, math.ceil(rows / per_leaf))
    while level > 1:
        level = math.ceil(level / per_inner)
        pages += level
    return (pages + 1) * PAGE_BYTES  # and the metapage


def build_seconds(size_bytes: int) -> float:
    return round(max(size_bytes / BUILD_BYTES_PER_SECOND, 0.1), 1)


def _estimated_index(table: TableStats | None, columns: Sequence[str]) -> tuple[int, str] | None:
    """The size of a new B-tree on `columns`, and where it comes from; None when a width is unknown."""
    if table is None or not columns:
        return None
    rows = table.row_estimate if table.row_estimate >= 0 else float(table.n_live_tup)  # -1: never analyzed
    widths = {column.name: column for column in table.columns}
    key_width = 0.0
    for name in columns:
        column = widths.get(name)
        if column is None or column.avg_width is None:
            return None
        # pg_stats' avg_width is over the non-null values; a null takes no data, only a bitmap bit.
        key_width += column.avg_width * (1 - (column.null_frac or 0.0))
    basis = (
        f"B-tree estimate: {rows:,.0f} rows x {key_width:.0f} bytes of key "
        "(table statistics, no deduplication: an upper bound)"
    )
    return btree_bytes(rows, key_width), basis


@dataclass(frozen=True)
class Readings:
    """What the risks of a page of recommendations are worked out from, read once for all of them."""

    tables: Mapping[str, TableStats]  # by `schema.table`
    indexes: Sequence[IndexStats]
    writes: WritesMeasured | None


@lru_cache(maxsize=1024)  # sqlglot takes half a millisecond a parse; pages list the same drops again
def dropped_index(sql: str) -> tuple[str | None, str] | None:
    """(schema or None, name) of the index a DROP INDEX drops; None for SQL the agent would refuse."""
    try:
        admitted = admit_ddl(sql)
    except DdlRefused:
        return None
    if admitted.kind != "drop_index" or admitted.index_name is None:
        return None
    return admitted.schema, admitted.index_name


def _existing_index(indexes: Sequence[IndexStats], sql: str) -> IndexStats | None:
    dropped = dropped_index(sql)
    if dropped is None:
        return None
    schema, name = dropped
    matching = [i for i in indexes if i.name == name and schema in (None, i.schema_name)]
    if schema is None and len(matching) > 1:  # unqualified: the search_path decides, not known here
        matching = [i for i in matching if i.schema_name == "public"]
    return matching[0] if len(matching) == 1 else None


def relation_names(table_name: str) -> set[str]:
    """How statements name the table: qualified, or bare when it is in `public` (the default
    search_path; a bare name in another schema cannot be told apart from the text)."""
    schema, _, name = table_name.rpartition(".")
    return {table_name, name} if schema in ("", "public") else {table_name}


def risk_of(row: Recommendation, readings: Readings) -> RecommendationRisk | None:
    if row.kind not in INDEX_KINDS:
        return None
    sized: tuple[int, str] | None = None
    if row.kind == "create_index":
        sized = _estimated_index(readings.tables.get(row.table_name or ""), row.columns)
    else:
        index = _existing_index(readings.indexes, row.sql)
        if index is not None:
            sized = index.size_bytes, "the index's size in the latest snapshot"
    per_second, writes = None, readings.writes
    if writes is not None and row.table_name:
        rows = sum(writes.rows_by_relation.get(name, 0) for name in relation_names(row.table_name))
        per_second = round(rows / writes.seconds, 3)
    return RecommendationRisk(
        lock=CREATE_LOCK if row.kind == "create_index" else DROP_LOCK,
        estimated_size_bytes=sized[0] if sized else None,
        size_basis=sized[1] if sized else None,
        estimated_build_seconds=build_seconds(sized[0]) if sized else None,
        table_writes_per_second=per_second,
        writes_window_seconds=writes.seconds if writes is not None else None,
    )


async def risks_of(
    session: AsyncSession, context: TenantContext, database_id: uuid.UUID, rows: Sequence[Recommendation]
) -> dict[uuid.UUID, RecommendationRisk | None]:
    """Each row's risk, from one read of their tables, one of their indexes and one of the writes."""
    indexed = [row for row in rows if row.kind in INDEX_KINDS]
    if not indexed:
        return {}
    reads = RiskReadings(session, context, database_id)
    tables = {row.table_name for row in indexed if row.table_name}
    dropped = [found for row in indexed if row.kind == "drop_index" and (found := dropped_index(row.sql))]
    relations = {name for table in tables for name in relation_names(table)}
    readings = Readings(
        tables=await reads.tables(
            {row.table_name for row in indexed if row.kind == "create_index" and row.table_name}
        ),
        indexes=await reads.indexes({name for _, name in dropped}),
        writes=await reads.writes(relations, WRITES_WINDOW),
    )
    return {row.id: risk_of(row, readings) for row in indexed}
