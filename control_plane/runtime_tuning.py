"""The collector and GIL settings every process of the server runs under: web, workers, and the
processes that check snapshot bodies (control_plane.ingestion.snapshot_checks)."""

from __future__ import annotations

import gc
import sys

# A snapshot of 5,000 statements allocates some 100,000 objects. At the default threshold (700)
# that sets off collections every few hundred microseconds of parsing, and every so often a full
# one over the whole heap: 50-100 ms with the GIL held, during which no request of the process
# advances. Objects alive after start-up are frozen out of collections altogether.
GC_THRESHOLDS = (50_000, 20, 10)
# Where a snapshot is decoded in a thread (a worker's; a request's when not in a checking process),
# the event loop waits at most this long for the GIL whenever it has something to advance
# (Python's default is 5 ms, and a request needs it often).
GIL_SWITCH_INTERVAL_S = 0.001


def tune_runtime() -> None:
    """Freezes what is alive after start-up out of the collector, and sets its thresholds and the
    GIL's switch interval. Called once a process has imported what it runs."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
