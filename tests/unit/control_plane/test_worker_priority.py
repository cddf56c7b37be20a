"""A workers-only process yields the CPU to the API (niceness 10, every thread); an API process never."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from control_plane.ingestion.inbox_worker import WORKERS_ONLY_NICENESS

PROBE = """
import os, threading, time
from pathlib import Path
from control_plane.ingestion.inbox_worker import yield_cpu_to_the_api
from control_plane.settings import Settings
started = threading.Thread(target=time.sleep, args=(2,), daemon=True)
started.start()  # a thread that exists before: reniced too
yield_cpu_to_the_api(Settings(metadata_url="postgresql://u@h/d", env="development", workers="{mode}"))
later = threading.Thread(target=time.sleep, args=(2,), daemon=True)
later.start()  # and one started after: inherits it
print(sorted({{os.getpriority(os.PRIO_PROCESS, int(task.name)) for task in Path("/proc/self/task").iterdir()}}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priorities are Linux's")
@pytest.mark.parametrize("mode", ["only", "on", "off"])
def test_only_a_workers_only_process_lowers_its_priority(mode: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(mode=mode)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    ours = os.getpriority(os.PRIO_PROCESS, 0)  # the child starts with it (a CI may run niced)
    expected = max(ours, WORKERS_ONLY_NICENESS) if mode == "only" else ours
    assert done.stdout.strip() == str([expected])
