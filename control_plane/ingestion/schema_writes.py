"""When a worker writes a database's latest schema statistics: at once when the schema's shape
changed, otherwise at most once per OPTISCHEMA_SCHEMA_STATS_INTERVAL_S of the snapshots' time.

Every snapshot carries the statistics of every table, column and index (~0.2 MB of JSON for 120
tables). Written each time, they cost a worker ~7 ms of CPU a snapshot stored alone, ~8 % of all it
takes to accept and store one (2026-12-06, benchmarks/ingestion_store_cost.py: validating and
serializing them ~3 ms in the worker, PostgreSQL parsing them into jsonb ~4 ms). What reads them
(index health, the analysis context, an index change's risk) wants the shape now and the counters
(scans, sizes, column statistics) only roughly: pganalyze refreshes the same statistics every ten
minutes. So a snapshot's are written when they name another table, column, type or index, when
an index's definition, kind or validity changed (an apply job's new index shows on the next
snapshot), or when an index was scanned for the first time (an unused index's drop is refused
from then on), and otherwise once the stored ones are `every` older than the snapshot.

What was written last is remembered per process (the last `capacity` databases): each worker
process writes a database's statistics at most once per interval, and one that has not seen a
database yet writes at once. A write is remembered when it is made, and forgotten again when the
store that made it fails (inbox_worker), so a rolled-back write never stops the next one.
"""

from __future__ import annotations

import functools
import hashlib
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import msgspec

SCHEMA_CAPACITY: Final = 10_000  # databases remembered per process, ~100 bytes each


class _ColumnShape(msgspec.Struct, frozen=True):
    name: str
    type: str
    not_null: bool


class _TableShape(msgspec.Struct, frozen=True):
    schema_name: str
    name: str
    is_partitioned: bool = False
    columns: list[_ColumnShape] = []


class _IndexShape(msgspec.Struct, frozen=True):
    schema_name: str
    table: str
    name: str
    definition: str | None
    columns: list[str]
    access_method: str
    is_unique: bool
    is_primary: bool
    is_valid: bool
    is_partial: bool
    backs_constraint: bool
    idx_scan: int = 0

    def judged(self) -> tuple[object, ...]:
        """What index health judges an index by: all of it but its sizes and counters, and whether
        it was ever scanned (an unused index's drop holds only while it has no scan:
        control_plane.index_health.staleness)."""
        return (*msgspec.structs.astuple(self)[:-1], self.idx_scan > 0)


# Decoded leaving every other field out (msgspec skips unknown fields): ~0.2 ms for 120 tables.
# Not strict: the body passed the wire model's checks, which take "true" or 1 for a bool as well.
_TABLES: Final = msgspec.json.Decoder(list[_TableShape], strict=False)
_INDEXES: Final = msgspec.json.Decoder(list[_IndexShape], strict=False)
_ENCODE: Final = msgspec.json.Encoder()


def schema_shape(tables_json: bytes, indexes_json: bytes) -> bytes | None:
    """A digest of what the statistics name (tables, their columns and types, indexes and what
    index health judges them by), not of their counters; None for a text the wire model took and
    these plainer types do not (a bool sent as "yes"): its statistics are then always written."""
    try:
        tables, indexes = _TABLES.decode(tables_json), _INDEXES.decode(indexes_json)
    except msgspec.ValidationError:
        return None
    shape = (tables, [index.judged() for index in indexes])
    return hashlib.blake2b(_ENCODE.encode(shape), digest_size=16).digest()


@dataclass(frozen=True)
class _Written:
    collected_at: datetime
    shape: bytes


class SchemaWrites:
    """The schema statistics this process wrote last, per database (see the module's docstring)."""

    def __init__(self, every: timedelta, capacity: int = SCHEMA_CAPACITY) -> None:
        self._every = every
        self._capacity = capacity
        self._written: OrderedDict[uuid.UUID, _Written] = OrderedDict()
        self._lock = threading.Lock()  # one per process, shared by its event loops' threads

    def due(self, database_id: uuid.UUID, collected_at: datetime, shape: bytes | None) -> bool:
        """Whether statistics of this shape collected then are to be written (always for a shape
        unknown, None); if so, remembered as written."""
        with self._lock:
            if shape is None:
                self._written.pop(database_id, None)
                return True
            last = self._written.get(database_id)
            if last is not None and last.shape == shape and collected_at - last.collected_at < self._every:
                return False
            self._written[database_id] = _Written(collected_at, shape)
            self._written.move_to_end(database_id)
            while len(self._written) > self._capacity:
                self._written.popitem(last=False)
            return True

    def forget(self, database_ids: set[uuid.UUID]) -> None:
        """These databases' next statistics are written whatever they are (their store failed)."""
        with self._lock:
            for database_id in database_ids:
                self._written.pop(database_id, None)


@functools.cache
def schema_writes(every_s: float) -> SchemaWrites:
    """The process's one SchemaWrites for this interval (a worker's settings give it)."""
    return SchemaWrites(timedelta(seconds=every_s))
