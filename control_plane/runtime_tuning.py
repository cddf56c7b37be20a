"""The collector, GIL and allocator settings every process of the server runs under: web, workers,
and the processes that check snapshot bodies (control_plane.ingestion.snapshot_checks)."""

from __future__ import annotations

import ctypes
import gc
import logging
import sys

log = logging.getLogger(__name__)

# A snapshot of 5,000 statements allocates some 100,000 objects. At the default threshold (700)
# that sets off collections every few hundred microseconds of parsing, and every so often a full
# one over the whole heap: 50-100 ms with the GIL held, during which no request of the process
# advances. Objects alive after start-up are frozen out of collections altogether.
GC_THRESHOLDS = (50_000, 20, 10)
# Where a snapshot is decoded in a thread (a worker's; a request's when not in a checking process),
# the event loop waits at most this long for the GIL whenever it has something to advance
# (Python's default is 5 ms, and a request needs it often).
GIL_SWITCH_INTERVAL_S = 0.001

# glibc's malloc gives memory back to the kernel as soon as it is freed: a block of 128 kB or more
# (its threshold rises with the blocks freed, to a few MB here) is unmapped on free, and the top of
# its heap is returned once more than twice that is free there. The next snapshot then maps fresh
# pages, and the kernel zeroes each one on its first touch: every snapshot's buffers (its 0.6 MB
# body, the 3.2 MB inflated, the decoded rows, the COPY data) cost a checking process ~800 page
# faults and a worker ~2,500. On the 2-core reference machine (a VM whose host takes back freed
# memory), page faults were ~12 % of all CPU while ingesting: ~350,000 a run of 96 snapshots, 2
# workers. Kept instead (blocks up to 32 MB come from the heap, and up to 64 MB of free heap stays
# mapped), the faults fell to ~200,000 (PostgreSQL's, mostly) and the CPU per stored snapshot of the
# checking processes from ~14.8 to ~12, of the workers from ~23 to ~20 ms
# (benchmarks/ingestion_workers.py, capacity, 2026-12-06). What it costs: up to 64 MB of free heap
# stays mapped in each process (a worker uses ~150 MB), besides what fragmentation keeps anyway.
MALLOC_MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024  # glibc's largest (HEAP_MAX_SIZE / 2 on 64 bits)
MALLOC_TRIM_THRESHOLD_BYTES = 64 * 1024 * 1024
_M_TRIM_THRESHOLD = -1  # malloc.h
_M_MMAP_THRESHOLD = -3


def keep_freed_memory() -> bool:
    """Sets glibc's thresholds above; False where the C library has no such setting (musl's
    mallopt does nothing and says so, macOS has none)."""
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    kept = bool(mallopt(_M_MMAP_THRESHOLD, MALLOC_MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(_M_TRIM_THRESHOLD, MALLOC_TRIM_THRESHOLD_BYTES)
    )
    if not kept:
        log.info("the C library keeps its own allocator thresholds (mallopt refused them)")
    return kept


def tune_runtime() -> None:
    """Freezes what is alive after start-up out of the collector, and sets its thresholds, the GIL's
    switch interval and the allocator's thresholds. Called once a process has imported what it runs."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    keep_freed_memory()
