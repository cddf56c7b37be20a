"""The binary COPY data of a batch's statement rows reads back, in PostgreSQL, as exactly the rows."""

from __future__ import annotations

import asyncio
import sys

import msgspec
import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.db.engine import engine_from_url
from control_plane.db.session import COPY_SLICE_BYTES, copy_binary
from control_plane.ingestion.batch_rows import (
    BATCH_ROWS_TABLE,
    CREATE_BATCH_ROWS,
    EMPTY_BATCH_ROWS,
    copy_data,
)
from control_plane.ingestion.statement_rows import COUNTER_FIELDS, StatementCounterRow, StatementRow
from shared.wire.base import BIGINT_MAX


def _row(fingerprint: str, value: int) -> StatementCounterRow:
    return StatementCounterRow(
        fingerprint,
        **{name: float(value) / 7 if name.endswith("_ms") else value for name in COUNTER_FIELDS},
    )


def _copied(db: psycopg.Connection, data: bytes) -> list[tuple[object, ...]]:
    with db.transaction():
        db.execute(CREATE_BATCH_ROWS)
        db.execute(EMPTY_BATCH_ROWS)
        with db.cursor().copy(f"COPY {BATCH_ROWS_TABLE} FROM STDIN (FORMAT binary)") as copy:
            copy.write(data)
        return db.execute(f"SELECT * FROM {BATCH_ROWS_TABLE}").fetchall()


def test_every_value_of_every_snapshot_reads_back_in_fingerprint_order(db: psycopg.Connection) -> None:
    first = [_row(f"{n:016x}", n * 1_000_003) for n in (900, 3, 500)]
    second = [_row("ffffffffffffffff", 0), _row("0000000000000001", 17)]

    rows = _copied(db, copy_data([first, second]))

    expected = [
        (k, row.fingerprint, *(getattr(row, name) for name in COUNTER_FIELDS))
        for k, snapshot in ((1, first), (2, second))
        for row in sorted(snapshot, key=lambda row: row.fingerprint)
    ]
    assert rows == expected


def test_the_extremes_the_decoder_admits_survive_exactly(db: psycopg.Connection) -> None:
    largest = StatementCounterRow(
        "abcdef0123456789",
        **{name: sys.float_info.max if name.endswith("_ms") else BIGINT_MAX for name in COUNTER_FIELDS},
    )
    tiny = StatementCounterRow(
        "0123456789abcdef", **{name: 5e-324 if name.endswith("_ms") else 0 for name in COUNTER_FIELDS}
    )

    rows = _copied(db, copy_data([[largest, tiny]]))

    assert rows == [
        (1, row.fingerprint, *(getattr(row, name) for name in COUNTER_FIELDS)) for row in (tiny, largest)
    ]


def test_an_empty_batch_is_an_empty_copy(db: psycopg.Connection) -> None:
    assert _copied(db, copy_data([[], []])) == []


def test_a_snapshot_without_statements_keeps_its_place_in_the_numbering(db: psycopg.Connection) -> None:
    rows = _copied(db, copy_data([[_row("00000000000000aa", 1)], [], [_row("00000000000000bb", 2)]]))

    assert [(row[0], row[1]) for row in rows] == [(1, "00000000000000aa"), (3, "00000000000000bb")]


def test_statements_decoded_whole_copy_as_their_counters_do() -> None:
    counters = [_row(f"{n:016x}", n * 31) for n in (7, 2, 5)]
    whole = [
        StatementRow(
            **msgspec.structs.asdict(row),
            query="SELECT * FROM orders WHERE id = $1",
            statement_type="select",
            relations=["public.orders"],
        )
        for row in counters
    ]

    assert copy_data([whole, counters]) == copy_data([counters, whole])
    assert copy_data([whole]) == copy_data([counters])


def test_a_second_copy_in_one_transaction_holds_only_its_own_rows_and_a_commit_empties_it(
    db: psycopg.Connection,
) -> None:
    with db.transaction():
        assert len(_copied(db, copy_data([[_row("00000000000000aa", 1)]]))) == 1
        assert [row[1] for row in _copied(db, copy_data([[_row("00000000000000bb", 2)]]))] == [
            "00000000000000bb"
        ]
    assert db.execute(f"SELECT count(*) FROM {BATCH_ROWS_TABLE}").fetchone() == (0,)


def test_a_fingerprint_of_another_length_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(ValueError, match="16 characters"):
        copy_data([[_row("abc", 1)]])


def test_copy_data_of_several_slices_reaches_postgresql_whole_through_the_workers_driver(db_url: str) -> None:
    # 5,000 rows are ~0.9 MB: three whole slices and a part of one (session.COPY_SLICE_BYTES).
    rows = [_row(f"{n:016x}", n) for n in range(5_000)]
    data = copy_data([rows])
    assert len(data) > 3 * COPY_SLICE_BYTES and len(data) % COPY_SLICE_BYTES

    async def copied() -> list[tuple[object, ...]]:
        engine = engine_from_url(db_url, pool_size=1, max_overflow=0)
        try:
            async with AsyncSession(engine) as session, session.begin():
                await session.execute(text(CREATE_BATCH_ROWS))
                await copy_binary(session, BATCH_ROWS_TABLE, data)
                result = await session.execute(text(f"SELECT * FROM {BATCH_ROWS_TABLE} ORDER BY fingerprint"))
                return [tuple(row) for row in result]
        finally:
            await engine.dispose()

    expected = [(1, row.fingerprint, *(getattr(row, name) for name in COUNTER_FIELDS)) for row in rows]
    assert asyncio.run(copied()) == expected
