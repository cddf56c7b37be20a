"""Whether processes a test started (or left behind) have ended: a zombie has, though nobody has
reaped it yet (an orphan's new parent may never)."""

from __future__ import annotations

import time

import psutil

POLL_S = 0.1


def still_running(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those of `processes` that are running: neither gone nor a zombie."""
    alive = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.NoSuchProcess:
            continue
    return alive


def running_after(processes: list[psutil.Process], timeout_s: float) -> list[psutil.Process]:
    """Those of `processes` still running once all have ended or `timeout_s` has passed."""
    deadline = time.monotonic() + timeout_s
    while (alive := still_running(processes)) and time.monotonic() < deadline:
        time.sleep(POLL_S)
    return alive
