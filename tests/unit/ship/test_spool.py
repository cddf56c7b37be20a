"""Spool: durable, ordered, bounded storage of snapshots waiting for the control plane."""

from __future__ import annotations

import gzip
import os
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from agent.ship.spool import TEMP_PREFIX, CorruptSpoolEntry, Spool, SpoolLimits, entry_name
from shared.wire.snapshot import Snapshot
from tests.unit.ship.snapshots import T0, make_snapshot

ROOMY_DISK = (10**12, 10**9, 10**12 - 10**9)


class FakeDisk:
    """disk_usage(): a disk of `total` bytes with `used` in use, which the spool's files do not change."""

    def __init__(self, total: int = ROOMY_DISK[0], used: int = ROOMY_DISK[1]) -> None:
        self.total, self.used = total, used

    def __call__(self, path: Path) -> tuple[int, int, int]:
        return self.total, self.used, self.total - self.used


def spool_at(directory: Path, *, now: datetime = T0, disk: FakeDisk | None = None, **limits: object) -> Spool:
    return Spool(directory, SpoolLimits(**limits), clock=lambda: now, disk_usage=disk or FakeDisk())  # type: ignore[arg-type]


def snapshots_at(*minutes: int) -> list[Snapshot]:
    return [make_snapshot(collected_at=T0 + timedelta(minutes=m)) for m in minutes]


def test_put_stores_gzip_json_that_loads_back_equal(tmp_path: Path) -> None:
    spool = spool_at(tmp_path)
    snapshot = make_snapshot()
    entry = spool.put(snapshot)
    assert entry.path.parent == tmp_path / "snapshots"
    assert Snapshot.model_validate_json(gzip.decompress(entry.path.read_bytes())) == snapshot
    assert spool.load(entry) == snapshot
    assert entry.size_bytes == entry.path.stat().st_size


def test_atomic_write_leaves_no_temp_files(tmp_path: Path) -> None:
    spool = spool_at(tmp_path)
    for snapshot in snapshots_at(0, 1, 2):
        spool.put(snapshot)
    spool.acknowledge_dropped(0)
    leftovers = [p for p in tmp_path.rglob("*") if p.name.startswith(TEMP_PREFIX)]
    assert leftovers == []


def test_failed_write_leaves_neither_temp_file_nor_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = spool_at(tmp_path)

    def broken_fsync(descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="No space"):
        spool.put(make_snapshot())
    monkeypatch.undo()
    assert list((tmp_path / "snapshots").iterdir()) == []


def test_leftover_temp_files_from_a_crash_are_ignored_and_cleaned(tmp_path: Path) -> None:
    spool = spool_at(tmp_path)
    spool.put(make_snapshot())
    crashed = tmp_path / "snapshots" / f"{TEMP_PREFIX}abc"
    crashed.write_bytes(b"half a snapsh")
    assert len(spool.entries()) == 1
    assert not crashed.exists()


def test_files_that_are_not_ours_are_left_alone(tmp_path: Path) -> None:
    spool = spool_at(tmp_path)
    stranger = tmp_path / "snapshots" / "README.txt"
    stranger.write_text("hello")
    assert spool.entries() == []
    assert stranger.exists()


def test_entries_are_oldest_first_then_by_id(tmp_path: Path) -> None:
    spool = spool_at(tmp_path, now=T0 + timedelta(hours=1))
    low, high = sorted([uuid.uuid4(), uuid.uuid4()], key=str)
    puts = [
        make_snapshot(collected_at=T0 + timedelta(minutes=2)),
        make_snapshot(collected_at=T0, snapshot_id=high),
        make_snapshot(collected_at=T0 + timedelta(minutes=1)),
        make_snapshot(collected_at=T0, snapshot_id=low),
    ]
    for snapshot in puts:
        spool.put(snapshot)
    assert [e.snapshot_id for e in spool.entries()] == [low, high, puts[2].snapshot_id, puts[0].snapshot_id]
    assert [e.collected_at for e in spool.entries()] == sorted(e.collected_at for e in spool.entries())


def test_file_names_sort_by_utc_time_whatever_the_offset(tmp_path: Path) -> None:
    later_in_utc = make_snapshot(
        collected_at=datetime(2024, 5, 1, 9, 0, tzinfo=timezone(timedelta(hours=-5)))
    )
    earlier = make_snapshot(collected_at=T0)  # 12:00 UTC, before 14:00 UTC
    assert entry_name(earlier) < entry_name(later_in_utc)


def test_a_restart_picks_up_every_entry(tmp_path: Path) -> None:
    first = spool_at(tmp_path)
    stored = [first.put(snapshot).snapshot_id for snapshot in snapshots_at(0, 1, 2)]
    restarted = spool_at(tmp_path)
    assert [e.snapshot_id for e in restarted.entries()] == stored
    assert restarted.pending_count == 3


def test_spool_evicts_oldest_first_when_over_size(tmp_path: Path) -> None:
    probe = spool_at(tmp_path / "probe")
    size = probe.put(make_snapshot()).size_bytes
    spool = spool_at(tmp_path / "spool", now=T0 + timedelta(hours=1), max_bytes=3 * size + size // 2)
    puts = snapshots_at(0, 1, 2, 3, 4)
    for snapshot in puts:
        spool.put(snapshot)
    assert [e.snapshot_id for e in spool.entries()] == [s.snapshot_id for s in puts[2:]]
    assert spool.dropped_unreported() == 2


def test_spool_evicts_snapshots_older_than_max_age(tmp_path: Path) -> None:
    spool = spool_at(tmp_path, now=T0 + timedelta(days=7, minutes=1, seconds=30), max_age=timedelta(days=7))
    puts = snapshots_at(0, 1, 2, 3)
    for snapshot in puts:
        spool.put(snapshot)
    assert [e.snapshot_id for e in spool.entries()] == [s.snapshot_id for s in puts[2:]]
    assert spool.dropped_unreported() == 2


def test_spool_evicts_oldest_until_the_disk_is_under_its_fraction(tmp_path: Path) -> None:
    disk = FakeDisk(total=100_000, used=0)
    spool = spool_at(tmp_path, disk=disk, now=T0 + timedelta(hours=1), max_disk_fraction=0.8)
    puts = snapshots_at(0, 1, 2, 3, 4)
    for snapshot in puts:
        spool.put(snapshot)
    sizes = [e.size_bytes for e in spool.entries()]
    # Over 80% by a little less than the two oldest snapshots: both must go, and only them.
    disk.used = 80_000 + sizes[0] + sizes[1] - 1
    assert spool.enforce_limits() == 2
    assert [e.snapshot_id for e in spool.entries()] == [s.snapshot_id for s in puts[2:]]
    assert spool.dropped_unreported() == 2


def test_disk_rule_keeps_the_newest_snapshot(tmp_path: Path) -> None:
    # A disk filled by something else: evicting everything would lose the latest interval for nothing.
    disk = FakeDisk(total=100_000, used=99_000)
    spool = spool_at(tmp_path, disk=disk, now=T0 + timedelta(hours=1))
    puts = snapshots_at(0, 1, 2)
    for snapshot in puts:
        spool.put(snapshot)
    assert [e.snapshot_id for e in spool.entries()] == [puts[-1].snapshot_id]
    assert spool.dropped_unreported() == 2


def test_no_eviction_within_limits(tmp_path: Path) -> None:
    spool = spool_at(tmp_path, now=T0 + timedelta(hours=1))
    for snapshot in snapshots_at(0, 1, 2):
        spool.put(snapshot)
    assert spool.enforce_limits() == 0
    assert spool.pending_count == 3
    assert spool.dropped_unreported() == 0


def test_dropped_counter_persists_across_a_new_spool(tmp_path: Path) -> None:
    spool = spool_at(tmp_path, now=T0 + timedelta(days=30))
    for snapshot in snapshots_at(0, 1, 2):
        spool.put(snapshot)
    assert spool.dropped_unreported() == 3
    assert spool_at(tmp_path).dropped_unreported() == 3


def test_acknowledge_dropped_subtracts_so_later_drops_are_not_lost(tmp_path: Path) -> None:
    spool = spool_at(tmp_path, now=T0 + timedelta(days=30))
    spool.put(make_snapshot())
    spool.put(make_snapshot())
    reported = spool.dropped_unreported()
    spool.put(make_snapshot())  # dropped while the heartbeat carrying `reported` was in flight
    spool.acknowledge_dropped(reported)
    assert spool.dropped_unreported() == 1
    assert spool_at(tmp_path).dropped_unreported() == 1
    spool.acknowledge_dropped(5)
    assert spool.dropped_unreported() == 0


def test_damaged_counter_file_starts_from_zero(tmp_path: Path) -> None:
    (tmp_path / "spool-dropped.json").write_text("{not json")
    assert spool_at(tmp_path).dropped_unreported() == 0


def test_corrupt_file_is_quarantined_counted_and_reported(tmp_path: Path) -> None:
    spool = spool_at(tmp_path)
    entry = spool.put(make_snapshot())
    entry.path.write_bytes(gzip.compress(b'{"schema_version": 1, "truncated'))
    with pytest.raises(CorruptSpoolEntry) as raised:
        spool.load(entry)
    assert raised.value.entry == entry
    assert spool.entries() == []
    assert (tmp_path / "quarantine" / entry.name).exists()
    assert spool.dropped_unreported() == 1


def test_not_gzip_at_all_is_quarantined(tmp_path: Path) -> None:
    spool = spool_at(tmp_path)
    entry = spool.put(make_snapshot())
    entry.path.write_bytes(b"plain text")
    with pytest.raises(CorruptSpoolEntry):
        spool.load(entry)
    assert spool.pending_count == 0


def test_quarantine_keeps_only_the_newest_files(tmp_path: Path) -> None:
    spool = spool_at(tmp_path, now=T0 + timedelta(hours=1), max_quarantined=2)
    entries = [spool.put(snapshot) for snapshot in snapshots_at(0, 1, 2)]
    for entry in entries:
        spool.quarantine(entry, "test")
    assert sorted(p.name for p in (tmp_path / "quarantine").iterdir()) == [e.name for e in entries[1:]]
    assert spool.dropped_unreported() == 3


def test_replace_swaps_a_snapshot_for_its_parts(tmp_path: Path) -> None:
    spool = spool_at(tmp_path, now=T0 + timedelta(hours=1))
    original, later = snapshots_at(0, 5)
    entry = spool.put(original)
    spool.put(later)
    parts = [make_snapshot(1, collected_at=original.collected_at) for _ in range(2)]
    written = spool.replace(entry, parts)
    assert {e.snapshot_id for e in written} == {p.snapshot_id for p in parts}
    remaining = spool.entries()
    assert original.snapshot_id not in {e.snapshot_id for e in remaining}
    assert remaining[-1].snapshot_id == later.snapshot_id  # the parts keep the original's place
    assert spool.dropped_unreported() == 0


def test_remove_deletes_the_entry(tmp_path: Path) -> None:
    spool = spool_at(tmp_path)
    entry = spool.put(make_snapshot())
    spool.remove(entry)
    spool.remove(entry)  # twice is harmless: a resend after a crash may already be gone
    assert spool.pending_count == 0
