"""Snapshots waiting for the control plane, one gzip file each, kept across restarts.

Every write is atomic (temp file in the same directory, fsync, rename, fsync of the directory), so
a crash leaves either the whole snapshot or none of it. File names sort oldest first, which is the
order they are resent in; resending is safe because the control plane is idempotent on snapshot_id.

The spool is bounded by age, by its own size and by the disk it lives on. The disk rule evicts the
oldest snapshots until the disk is back under its limit or only the newest snapshot is left: once
the spool is down to one file, the disk is full because of something else, and dropping the latest
interval too would lose data without freeing anything that matters (max_bytes still bounds it).
Evicted, corrupt and rejected snapshots are counted in a persisted counter that the heartbeat reports.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import re
import shutil
import threading
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

from agent.state.atomic_file import fsync_directory, write_bytes_atomically
from shared.wire.snapshot import Snapshot, gzipped_json

logger = logging.getLogger(__name__)

TEMP_PREFIX = ".spool-tmp-"  # distinct: the spool directory is shared with the agent's other state
_SUFFIX = ".json.gz"
_TIME_FORMAT = "%Y%m%dT%H%M%S.%fZ"
_NAME = re.compile(
    r"^(\d{8}T\d{6}\.\d{6}Z)_([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.json\.gz$"
)
_COUNTER_FILE = "spool-dropped.json"
_COUNTER_FORMAT = 1


@dataclass(frozen=True)
class SpoolLimits:
    max_bytes: int = 500 * 1024 * 1024
    max_age: timedelta = timedelta(days=7)
    max_disk_fraction: float = 0.8
    max_quarantined: int = 100  # set-aside files kept for diagnosis; older ones are deleted


@dataclass(frozen=True)
class SpoolEntry:
    path: Path
    snapshot_id: UUID
    collected_at: datetime
    size_bytes: int

    @property
    def name(self) -> str:
        return self.path.name


class CorruptSpoolEntry(Exception):
    """The file could not be read back as a Snapshot; it has been quarantined and counted as dropped."""

    def __init__(self, entry: SpoolEntry, reason: str) -> None:
        super().__init__(f"spooled snapshot {entry.name} is unreadable and was quarantined: {reason}")
        self.entry = entry
        self.reason = reason


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def entry_name(snapshot: Snapshot) -> str:
    """Fixed-width UTC time first, then the id: lexical order is collection order, ties broken stably."""
    return f"{_aware(snapshot.collected_at).strftime(_TIME_FORMAT)}_{snapshot.snapshot_id}{_SUFFIX}"


class Spool:
    def __init__(
        self,
        directory: Path,
        limits: SpoolLimits = SpoolLimits(),
        *,
        clock: Callable[[], datetime] = _utc_now,
        disk_usage: Callable[[Path], tuple[int, int, int]] = shutil.disk_usage,
    ) -> None:
        self.directory = directory
        self.limits = limits
        self._clock = clock
        self._disk_usage = disk_usage
        self._snapshots = directory / "snapshots"
        self._quarantine = directory / "quarantine"
        self._counter_path = directory / _COUNTER_FILE
        # The run loop may collect and deliver from different threads; one lock keeps a listing from
        # seeing a half-done replace and keeps temp-file cleanup away from a write in progress.
        self._lock = threading.RLock()
        for folder in (self._snapshots, self._quarantine):
            folder.mkdir(parents=True, exist_ok=True)
        for leftover in directory.glob(f"{TEMP_PREFIX}*"):
            leftover.unlink(missing_ok=True)
        self._dropped = self._read_counter()

    def put(self, snapshot: Snapshot) -> SpoolEntry:
        """Stores the snapshot, then enforces the limits (which may evict it if it alone breaks them)."""
        with self._lock:
            entry = self._write(snapshot)
            self.enforce_limits()
            return entry

    def entries(self) -> list[SpoolEntry]:
        with self._lock:
            found = []
            for path in self._snapshots.iterdir():
                if path.name.startswith(TEMP_PREFIX):
                    path.unlink(missing_ok=True)  # a write that crashed before its rename
                    continue
                match = _NAME.match(path.name)
                if match is None:
                    continue  # not ours: leave it for whoever put it there
                try:
                    size = path.stat().st_size
                except FileNotFoundError:
                    continue
                collected_at = datetime.strptime(match[1], _TIME_FORMAT).replace(tzinfo=UTC)
                found.append(SpoolEntry(path, UUID(match[2]), collected_at, size))
            return sorted(found, key=lambda entry: entry.name)

    @property
    def pending_count(self) -> int:
        """How many snapshots wait to be sent (what the heartbeat reports as spooled)."""
        return len(self.entries())

    def load(self, entry: SpoolEntry) -> Snapshot:
        """The stored snapshot; raises CorruptSpoolEntry (after quarantining it) when it is unreadable."""
        with self._lock:
            try:
                return Snapshot.model_validate_json(gzip.decompress(entry.path.read_bytes()))
            except (EOFError, zlib.error, gzip.BadGzipFile, ValueError) as error:
                reason = f"{type(error).__name__}: {str(error)[:300]}"
                self.quarantine(entry, reason)
                raise CorruptSpoolEntry(entry, reason) from None

    def remove(self, entry: SpoolEntry) -> None:
        with self._lock:
            entry.path.unlink(missing_ok=True)
            fsync_directory(self._snapshots)

    def replace(self, entry: SpoolEntry, parts: Sequence[Snapshot]) -> list[SpoolEntry]:
        """Swaps a snapshot for its parts: all parts are durable before the original goes, so a crash
        in between only leads to resends that the server recognizes as duplicates."""
        with self._lock:
            written = [self._write(part) for part in parts]
            self.remove(entry)
            return written

    def quarantine(self, entry: SpoolEntry, reason: str) -> None:
        """Sets a snapshot aside for a person to look at, and counts it as dropped."""
        with self._lock:
            try:
                os.replace(entry.path, self._quarantine / entry.name)
            except FileNotFoundError:
                return
            fsync_directory(self._snapshots)
            fsync_directory(self._quarantine)
            self._count_dropped(1)
            logger.warning("snapshot %s set aside in %s: %s", entry.snapshot_id, self._quarantine, reason)
            kept = sorted(self._quarantine.glob(f"*{_SUFFIX}"))
            for old in kept[: max(0, len(kept) - self.limits.max_quarantined)]:
                old.unlink(missing_ok=True)

    def enforce_limits(self) -> int:
        """Evicts the oldest snapshots that break a limit; returns how many were evicted."""
        with self._lock:
            keep = self.entries()
            evicted: dict[str, list[SpoolEntry]] = {"age": [], "size": [], "disk": []}
            cutoff = _aware(self._clock()) - self.limits.max_age
            while keep and keep[0].collected_at < cutoff:
                evicted["age"].append(keep.pop(0))
            total = sum(entry.size_bytes for entry in keep)
            while keep and total > self.limits.max_bytes:
                total -= keep[0].size_bytes
                evicted["size"].append(keep.pop(0))
            disk_total, disk_used, _free = self._disk_usage(self._snapshots)
            # Files not yet unlinked still occupy the disk; count them as freed up front.
            used = disk_used - sum(entry.size_bytes for group in evicted.values() for entry in group)
            while len(keep) > 1 and used > self.limits.max_disk_fraction * disk_total:
                used -= keep[0].size_bytes
                evicted["disk"].append(keep.pop(0))
            count = sum(len(group) for group in evicted.values())
            if count == 0:
                return 0
            for group in evicted.values():
                for entry in group:
                    entry.path.unlink(missing_ok=True)
            fsync_directory(self._snapshots)
            self._count_dropped(count)
            logger.warning(
                "spool limits evicted %d snapshot(s), oldest first: %d older than %s, %d over %d bytes, "
                "%d with the disk over %.0f%% full; %d remain",
                count,
                len(evicted["age"]),
                self.limits.max_age,
                len(evicted["size"]),
                self.limits.max_bytes,
                len(evicted["disk"]),
                self.limits.max_disk_fraction * 100,
                len(keep),
            )
            return count

    def dropped_unreported(self) -> int:
        with self._lock:
            return self._dropped

    def acknowledge_dropped(self, count: int) -> None:
        """After a heartbeat carrying `count` succeeded: subtract it, so drops since then still get reported."""
        with self._lock:
            self._dropped = max(0, self._dropped - max(0, count))
            self._write_counter()

    def _write(self, snapshot: Snapshot) -> SpoolEntry:
        path = self._snapshots / entry_name(snapshot)
        data = gzipped_json(snapshot)
        write_bytes_atomically(path, data, temp_prefix=TEMP_PREFIX)
        return SpoolEntry(path, snapshot.snapshot_id, _aware(snapshot.collected_at), len(data))

    def _count_dropped(self, count: int) -> None:
        self._dropped += count
        self._write_counter()

    def _write_counter(self) -> None:
        document = {"format": _COUNTER_FORMAT, "dropped_unreported": self._dropped}
        write_bytes_atomically(self._counter_path, json.dumps(document).encode(), temp_prefix=TEMP_PREFIX)

    def _read_counter(self) -> int:
        try:
            document = json.loads(self._counter_path.read_text())
            value = document["dropped_unreported"] if document.get("format") == _COUNTER_FORMAT else 0
            return value if isinstance(value, int) and value >= 0 else 0
        except FileNotFoundError:
            return 0
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            # Under-reporting drops once beats refusing to start over a damaged counter.
            logger.warning(
                "dropped-snapshot counter %s is unreadable (%s); starting from 0", self._counter_path, error
            )
            return 0
