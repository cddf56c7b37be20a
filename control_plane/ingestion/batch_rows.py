"""A batch's statement rows as PostgreSQL's binary COPY data, for a temporary table the storing
statement reads them from (series_sql).

Binary, PostgreSQL only byte-swaps each value: parsing the same 80,000 numbers a 5,000-statement
snapshot holds out of array literals (the text of `{1,2,...}`, cast to int8[] and float8[]) cost it
~10 ms of the ~50 ms storing the snapshot took. COPY cannot write to a table under row-level
security, hence the temporary table. It is created once per server connection and emptied at
every commit (ON COMMIT DELETE ROWS), so no row of it outlives its transaction on a connection a
PgBouncer hands to another client; and emptied before a second COPY in one transaction, one that
stores twice (a failed batch stored again snapshot by snapshot). Not created per transaction (ON COMMIT
DROP): each new table would be a new relation OID in the storing statement, and so a new entry in
pg_stat_statements for every batch, crowding out the metadata database's other statements.

The data is built in C as far as it goes. Each row's counters are packed at once, big-endian
(COUNTER_ROW); every row's fixed layout (a field count, then each field's length and value: every
field here has a fixed width) is then filled by strided slice assignment, one per byte of a value,
from the snapshots' ordinals, the fingerprints and the packed counters. 5,000 rows take ~6.5 ms
alone, ~9 ms a snapshot in a batch of 8. Until 2026-12-06 each row's values were transposed into
columns first, and each column made an array: 7.8 and 17 ms. Before that, the values were read a
column at a time over the whole batch: 15 passes over 40,000 rows and their 600,000 int objects
(~10 MB), missing the CPU's caches at nearly every value, 19 ms a snapshot of a batch of 8 on a
faster day (benchmarks/statement_encoding.py).
"""

from __future__ import annotations

import array
import operator
import struct
import sys
from collections.abc import Sequence
from typing import Final

from msgspec.structs import astuple

from control_plane.ingestion.statement_rows import COUNTER_FIELDS, StatementCounterRow
from shared.wire.base import FINGERPRINT_LENGTH  # validated on decoding (statement_rows.FingerprintText)

BATCH_ROWS_TABLE: Final = "optischema_batch_rows"
# Each counter, its SQL type and the array typecode of its 8-byte value.
COUNTER_TYPES: Final = tuple(
    (name, "float8", "d") if name.endswith("_ms") else (name, "int8", "q") for name in COUNTER_FIELDS
)
# `k` is the row's snapshot, its ordinal in the batch from 1; the fingerprint is 16 ASCII bytes,
# collated as the tables' fingerprints are (control_plane.models.base.FINGERPRINT).
_COLUMNS: Final = (
    ("k", "int8"),
    ("fingerprint", 'text COLLATE "C"'),
    *((name, kind) for name, kind, _ in COUNTER_TYPES),
)
_WIDTHS: Final = (8, FINGERPRINT_LENGTH, *(8 for _ in COUNTER_TYPES))
CREATE_BATCH_ROWS: Final = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {BATCH_ROWS_TABLE}"
    f" ({', '.join(f'{name} {kind}' for name, kind in _COLUMNS)}) ON COMMIT DELETE ROWS"
)
EMPTY_BATCH_ROWS: Final = f"DELETE FROM {BATCH_ROWS_TABLE}"  # before a transaction's second COPY
_HEADER: Final = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)  # signature, flags, no extension
_TRAILER: Final = struct.pack(">h", -1)
_SWAP: Final = sys.byteorder == "little"  # COPY's values are big-endian
_CHUNK_ROWS: Final = 256  # ~60 KB of rows
# One row's bytes with every value zero: the field count, then each field's length before its value.
_TEMPLATE: Final = struct.pack(">h", len(_COLUMNS)) + b"".join(
    struct.pack(">i", width) + bytes(width) for width in _WIDTHS
)
_OFFSETS: Final = tuple(2 + sum(4 + width for width in _WIDTHS[:index]) + 4 for index in range(len(_WIDTHS)))
_ROW_SIZE: Final = len(_TEMPLATE)
_FINGERPRINT = operator.attrgetter("fingerprint")
# One row's counters as 8-byte big-endian values, packed in one call: read off each row as a tuple
# and packed, a batch of 8 snapshots took ~2.4 ms a snapshot, where transposing the rows into
# columns and making an array of each took ~7 (2026-12-06, 40,000 rows).
COUNTER_ROW: Final = struct.Struct(">" + "".join(code for _, _, code in COUNTER_TYPES))
_pack_counters: Final = COUNTER_ROW.pack
_COUNTERS_END: Final = 1 + len(COUNTER_TYPES)  # a row's fields as a tuple: the fingerprint, then these
_KEY_WIDTH: Final = _WIDTHS[0]
# Where each field goes in a row of COPY data, and where it comes from in its source's row:
# (offset in the COPY row, offset in the source's row, width).
_KEY_FIELD: Final = ((_OFFSETS[0], 0, _KEY_WIDTH),)
_FINGERPRINT_FIELD: Final = ((_OFFSETS[1], 0, FINGERPRINT_LENGTH),)
_COUNTER_FIELDS: Final = tuple((_OFFSETS[2 + index], 8 * index, 8) for index in range(len(COUNTER_TYPES)))
# A row's fields as a tuple, in the struct's order: the fingerprint, then the counters as the
# table has them (a StatementRow's own fields come after these).
_ROW_FIELDS: Final = ("fingerprint", *COUNTER_FIELDS)
if StatementCounterRow.__struct_fields__ != _ROW_FIELDS:
    raise TypeError(f"StatementCounterRow's fields are not {_ROW_FIELDS}")


def big_endian(code: str, values: Sequence[int] | Sequence[float]) -> bytes:
    """The values as one column of COPY data: 8 bytes each, big-endian (`code` "q" or "d")."""
    column = array.array(code, values)
    if _SWAP:
        column.byteswap()
    return column.tobytes()


def copy_data(batch: Sequence[Sequence[StatementCounterRow]]) -> bytes:
    """The batch's rows, each snapshot's in fingerprint order (the rollups' upserts then need no
    real sort, and two batches of one database lock rollup rows in the same order), snapshot `k`
    after snapshot `k - 1`."""
    keys: list[bytes] = []
    fingerprints: list[bytes] = []
    counters: list[bytes] = []
    for k, statements in enumerate(batch, start=1):
        if not statements:
            continue
        ordered = sorted(statements, key=_FINGERPRINT)
        fingerprint_bytes = "".join(map(_FINGERPRINT, ordered)).encode("ascii")
        if len(fingerprint_bytes) != FINGERPRINT_LENGTH * len(ordered):
            raise ValueError(f"a fingerprint is not {FINGERPRINT_LENGTH} characters long")
        keys.append(big_endian("q", [k] * len(ordered)))
        fingerprints.append(fingerprint_bytes)
        # Each row's counters (astuple: the struct's fields in order, which begin with _ROW_FIELDS;
        # a StatementRow's text and the rest of its own fields come after, and are left out).
        counters.append(b"".join([_pack_counters(*astuple(row)[1:_COUNTERS_END]) for row in ordered]))
    return copy_rows(b"".join(keys), b"".join(fingerprints), b"".join(counters))


def copy_rows(keys: bytes, fingerprints: bytes, counters: bytes) -> bytes:
    """The COPY data of rows given as their snapshots' ordinals (`k`, big-endian, one column), the
    fingerprints' ASCII (one column) and the counters, a row's after another's, each row as
    COUNTER_ROW packs it."""
    count = len(keys) // _KEY_WIDTH
    parts = [_HEADER]
    # A chunk of rows at a time, which stays in the CPU's caches for the ~150 strided passes over
    # it: over the whole of a batch of 4 snapshots (~5 MB) they took 38-40 ms, in chunks 29-33 ms.
    for start in range(0, count, _CHUNK_ROWS):
        rows_here = min(_CHUNK_ROWS, count - start)
        rows = bytearray(_TEMPLATE * rows_here)
        for values, stride, fields in (
            (keys, _KEY_WIDTH, _KEY_FIELD),
            (fingerprints, FINGERPRINT_LENGTH, _FINGERPRINT_FIELD),
            (counters, COUNTER_ROW.size, _COUNTER_FIELDS),
        ):
            chunk = values[start * stride : (start + rows_here) * stride]
            for offset, source, width in fields:
                for byte in range(width):
                    rows[offset + byte :: _ROW_SIZE] = chunk[source + byte :: stride]
        parts.append(bytes(rows))
    parts.append(_TRAILER)
    return b"".join(parts)
