"""The COPY data of a batch is PostgreSQL's binary format, row by row, whatever the batch's size:
checked against the format written out one field at a time (the integration tests read it back
in PostgreSQL, with a few rows; these cross the boundaries of the chunks it is built in)."""

from __future__ import annotations

import random
import struct

import pytest

from control_plane.ingestion.batch_rows import COUNTER_TYPES, copy_data
from control_plane.ingestion.statement_rows import COUNTER_FIELDS, StatementCounterRow
from shared.wire.base import BIGINT_MAX


def by_the_book(batch: list[list[StatementCounterRow]]) -> bytes:
    """The COPY data as the format describes it: a header; per row its field count, then each
    field's length and value, big-endian; a trailer."""
    data = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
    for k, statements in enumerate(batch, start=1):
        for row in sorted(statements, key=lambda statement: statement.fingerprint):
            data += struct.pack(">h", 2 + len(COUNTER_TYPES)) + struct.pack(">iq", 8, k)
            data += struct.pack(">i", 16) + row.fingerprint.encode("ascii")
            for name, _, code in COUNTER_TYPES:
                data += struct.pack(f">i{code}", 8, getattr(row, name))
    return data + struct.pack(">h", -1)


def random_rows(count: int, rng: random.Random) -> list[StatementCounterRow]:
    fingerprints = {f"{rng.getrandbits(64):016x}" for _ in range(count)}
    while len(fingerprints) < count:
        fingerprints.add(f"{rng.getrandbits(64):016x}")
    counters: dict[str, int | float]
    rows = []
    for fingerprint in fingerprints:
        counters = {
            name: rng.uniform(0, 1e12) if name.endswith("_ms") else rng.randrange(BIGINT_MAX + 1)
            for name in COUNTER_FIELDS
        }
        rows.append(StatementCounterRow(fingerprint, **counters))  # type: ignore[arg-type]
    return rows


@pytest.mark.parametrize("sizes", [[0], [1], [255], [256], [257], [513], [300, 0, 213], [1000, 1000]])
def test_a_batch_of_any_size_is_the_binary_format_row_by_row(sizes: list[int]) -> None:
    rng = random.Random(sum(sizes))
    batch = [random_rows(size, rng) for size in sizes]

    assert copy_data(batch) == by_the_book(batch)
