"""When the latest schema statistics are written (control_plane.ingestion.schema_writes): their
shape is what they name, not what they count; a database's are due when the shape changed or the
interval has passed since the last write this process made."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from control_plane.ingestion.payload import INDEX_STATS_JSON, TABLE_STATS_JSON
from control_plane.ingestion.schema_writes import SchemaWrites, schema_shape
from shared.wire.snapshot import ColumnStats, IndexStats, TableStats
from tests.index_stats import index_stats

AT = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
EVERY = timedelta(minutes=5)


def table(**changes: Any) -> TableStats:
    base = TableStats(
        schema_name="public",
        name="orders",
        row_estimate=1e6,
        total_bytes=10,
        table_bytes=8,
        index_bytes=2,
        columns=[ColumnStats(name="id", type="bigint", not_null=True, n_distinct=-1.0)],
    )
    return base.model_copy(update=changes)


def index(**changes: Any) -> IndexStats:
    base = index_stats("orders_pkey", ["id"], scans=0).model_copy(
        update={"is_unique": True, "is_primary": True, "backs_constraint": True}
    )
    return base.model_copy(update=changes)


def shape(tables: list[TableStats], indexes: list[IndexStats]) -> bytes:
    return schema_shape(TABLE_STATS_JSON.dump_json(tables), INDEX_STATS_JSON.dump_json(indexes))


BASE = shape([table()], [index()])
COLUMN = ColumnStats(name="id", type="bigint", not_null=True)


@pytest.mark.parametrize(
    ("tables", "indexes"),
    [
        ([table(n_live_tup=5, seq_scan=9, total_bytes=99, row_estimate=2.0)], [index()]),
        ([table()], [index(size_bytes=1 << 20, idx_tup_read=3, idx_tup_fetch=2)]),
        ([table(columns=[COLUMN.model_copy(update={"null_frac": 0.5, "correlation": 0.9})])], [index()]),
    ],
    ids=["table counters", "index counters", "column statistics"],
)
def test_counters_and_statistics_leave_the_shape_as_it_is(
    tables: list[TableStats], indexes: list[IndexStats]
) -> None:
    assert shape(tables, indexes) == BASE


@pytest.mark.parametrize(
    ("tables", "indexes"),
    [
        ([table(), table(name="items")], [index()]),
        ([], [index()]),
        ([table(name="order_lines")], [index()]),
        ([table(schema_name="sales")], [index()]),
        ([table(is_partitioned=True)], [index()]),
        ([table(columns=[COLUMN, COLUMN.model_copy(update={"name": "note"})])], [index()]),
        ([table(columns=[COLUMN.model_copy(update={"type": "integer"})])], [index()]),
        ([table(columns=[COLUMN.model_copy(update={"not_null": False})])], [index()]),
        ([table()], []),
        ([table()], [index(), index(name="orders_id_idx", is_primary=False)]),
        ([table()], [index(name="orders_key")]),
        ([table()], [index(definition="CREATE INDEX orders_pkey ON public.orders USING hash (id)")]),
        ([table()], [index(is_valid=False)]),
        ([table()], [index(table="items")]),
        ([table()], [index(idx_scan=1)]),
        ([table()], [index(backs_constraint=False)]),
        ([table()], [index(is_unique=False, is_primary=False)]),
        ([table()], [index(is_partial=True)]),
        ([table()], [index(columns=["id", "expr"])]),
        ([table()], [index(access_method="hash")]),
    ],
    ids=[
        "a table added",
        "a table dropped",
        "a table renamed",
        "another schema",
        "partitioned",
        "a column added",
        "a column's type",
        "a column's nullability",
        "an index dropped",
        "an index added",
        "an index renamed",
        "an index's definition",
        "an index's validity",
        "an index's table",
        "an index scanned for the first time",
        "an index no longer backing a constraint",
        "an index no longer unique",
        "an index made partial",
        "an index's columns",
        "an index's access method",
    ],
)
def test_what_the_statistics_name_changes_the_shape(
    tables: list[TableStats], indexes: list[IndexStats]
) -> None:
    assert shape(tables, indexes) != BASE


def test_a_database_is_due_at_first_sight_at_a_new_shape_and_after_the_interval() -> None:
    writes, database, other = SchemaWrites(EVERY), uuid.uuid4(), uuid.uuid4()
    changed = shape([table(name="items")], [index()])
    assert writes.due(database, AT, BASE)
    assert not writes.due(database, AT + timedelta(seconds=30), BASE)
    assert writes.due(other, AT + timedelta(seconds=30), BASE)  # each database on its own
    assert writes.due(database, AT + timedelta(seconds=60), changed)
    assert not writes.due(database, AT + timedelta(seconds=60) + EVERY - timedelta(seconds=1), changed)
    assert writes.due(database, AT + timedelta(seconds=60) + EVERY, changed)
    # A resent older snapshot of the same shape is not written (the stored one is newer anyway).
    assert not writes.due(database, AT, changed)


def test_a_forgotten_database_is_due_again_and_the_oldest_are_let_go_past_the_capacity() -> None:
    writes = SchemaWrites(EVERY, capacity=2)
    first, second, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for database in (first, second):
        assert writes.due(database, AT, BASE)
    writes.forget({second})
    assert writes.due(second, AT, BASE)  # its write was rolled back: made again
    assert writes.due(third, AT, BASE)  # past the capacity: `first`, the least recent, is let go
    assert writes.due(first, AT, BASE)
    assert not writes.due(third, AT, BASE)


def test_with_an_interval_of_zero_every_snapshot_is_due() -> None:
    writes, database = SchemaWrites(timedelta(0)), uuid.uuid4()  # OPTISCHEMA_SCHEMA_STATS_INTERVAL_S=0
    assert writes.due(database, AT, BASE)
    assert writes.due(database, AT, BASE)


def test_a_shape_the_plain_types_cannot_read_is_unknown_and_always_written() -> None:
    # The wire model (lax, as pydantic is) takes "yes" for a bool; the shape's types do not.
    indexes = INDEX_STATS_JSON.dump_json([index()]).replace(b'"is_valid":true', b'"is_valid":"yes"')
    assert INDEX_STATS_JSON.validate_json(indexes) == [index()]
    assert schema_shape(TABLE_STATS_JSON.dump_json([table()]), indexes) is None
    lax = INDEX_STATS_JSON.dump_json([index()]).replace(b'"is_valid":true', b'"is_valid":1')
    assert schema_shape(TABLE_STATS_JSON.dump_json([table()]), lax) == BASE  # what msgspec takes too
    writes, database = SchemaWrites(EVERY), uuid.uuid4()
    assert writes.due(database, AT, BASE)
    assert writes.due(database, AT, None)
    assert writes.due(database, AT, None)
    assert writes.due(database, AT, BASE)  # nothing was remembered of the unknown ones


def test_more_scans_of_an_index_scanned_before_leave_the_shape_as_it_is() -> None:
    assert shape([table()], [index(idx_scan=1)]) == shape([table()], [index(idx_scan=5_000)])
