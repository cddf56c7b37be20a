"""`optischema-agent run`: cycles on the poll interval until SIGTERM or SIGINT.

The signal only sets an event. The cycle in progress finishes its local work (its snapshot is
already in the spool by then), and any wait for a retry ends at once, so shutdown is quick and
loses nothing; the next start resends what is spooled.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from agent.runner.cycle import AgentRunner, CycleReport, ShutdownRequested

log = logging.getLogger("optischema.agent.run")


def interruptible_sleep(stop: threading.Event) -> Callable[[float], None]:
    """A `sleep` for the transport's backoff that gives up as soon as shutdown is requested."""

    def sleep(seconds: float) -> None:
        if stop.wait(seconds):
            raise ShutdownRequested

    return sleep


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    def handle(signum: int, frame: FrameType | None) -> None:
        log.info("received %s: finishing the current cycle", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_cycles(
    runner: AgentRunner,
    *,
    interval_s: float,
    stop: threading.Event,
    once: bool = False,
    monotonic: Callable[[], float] = time.monotonic,
) -> CycleReport | None:
    """Runs cycles every `interval_s` (measured start to start) until `stop`; returns the last report."""
    last: CycleReport | None = None
    while not stop.is_set():
        started = monotonic()
        try:
            last = runner.run_cycle()
        except Exception:
            # Every step already logs and survives its own failures (a lost database connection is
            # DatabaseUnavailable); this is the net under a bug. A daemon that exits loses every
            # interval after it, so the next cycle tries again; `--once` still fails loudly.
            if once:
                raise
            log.exception("the cycle failed unexpectedly; the next one starts on schedule")
            stop.wait(max(0.0, interval_s - (monotonic() - started)))
            continue
        log.info(
            "cycle %d: collected=%s delivered=%d spooled=%d jobs=%d refused=%d%s",
            last.number,
            last.collected,
            last.delivered,
            last.spooled,
            last.jobs_done,
            last.jobs_refused,
            f" findings={last.findings}" if last.findings is not None else "",
        )
        if once:
            break
        stop.wait(max(0.0, interval_s - (monotonic() - started)))
    return last
