"""A server process keeps the memory a snapshot frees for the next one, instead of handing it back
to the kernel and faulting fresh pages in for every snapshot (control_plane.runtime_tuning)."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

# A fresh interpreter, so the allocator starts from glibc's defaults: each round holds four 3 MB
# buffers at once (a 5,000-statement snapshot inflated is 3.2 MB, and a worker holds a batch's) and
# frees them; the figure is the page faults of a round once warmed up. At glibc's defaults each
# round faults ~3,000 pages in again (12 MB returned to the kernel at every free).
PROBE = """
import json, resource
from control_plane.runtime_tuning import keep_freed_memory, tune_runtime
tune_runtime()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
def snapshot_round():
    buffers = [b"\\x01" * (3 << 20) for _ in range(4)]
    del buffers
for _ in range(3):
    snapshot_round()
before = faults()
for _ in range(10):
    snapshot_round()
print(json.dumps({"faults_per_round": (faults() - before) / 10, "kept": keep_freed_memory()}))
"""


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="the thresholds are glibc's",
)
def test_a_tuned_process_reuses_the_memory_a_snapshot_freed_without_faulting_it_in_again() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    assert probe["kept"] is True
    # 12 MB is ~3,000 pages; a few dozen are the interpreter's own small allocations.
    assert probe["faults_per_round"] < 100
