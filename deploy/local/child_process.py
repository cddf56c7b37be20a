"""Ending a server the tests, the demo or the soak started: politely first, then for sure."""

from __future__ import annotations

import subprocess
from typing import Any


def stop_gracefully(process: subprocess.Popen[Any] | None, timeout_s: float) -> None:
    """SIGTERM and wait up to `timeout_s` (a server gets to shut down cleanly), then SIGKILL."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout_s)
