"""Checking a snapshot's body before it is accepted (inflate, decode, every rule of the wire
format), in a process of its own rather than in the API's.

A check is ~15 ms of CPU for 5,000 statements (payload.parse_snapshot), nearly all of it in C
calls (ISA-L, msgspec, pydantic-core) that hold the GIL from start to end. In a thread of the API
process, the event loop, and so every other request of the process, waited behind each one: while
eight agents sent back to back, one check ran after another. In a process of its own the event
loop hands the body over (a copy of ~0.6 MB through a pipe) and goes on serving until the verdict
comes back: the reads' p99 while a backlog drains fell from 297-306 to 119-168 ms
(benchmarks/ingestion_workers.py, two workers, on a day the machine ran twice as slow as usual).

OPTISCHEMA_SNAPSHOT_CHECK_PROCESSES says how many such processes an API process has (1 by
default, ~45 MB each, so one per web worker); 0 checks in a thread of the API process, as before.
They are started at the first check, not at start-up (a process that never receives a snapshot
never pays for them: ~0.4 s of CPU each, importing the wire models), shared by every app of the
process, and started again when one dies: a check the death interrupted runs again. If the new
ones fail too, checks run in a thread of the API process for a while (POOL_COOL_OFF_S), so the
agent always gets its answer. They end with the API process, however it ends. Being spawned, each
imports the program's main module first, as Python's multiprocessing does: a program that serves
the app must keep its start behind `if __name__ == "__main__"`, as the server's own commands do.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import partial

import anyio

from control_plane.ingestion.payload import PayloadRejected, decode_snapshot
from control_plane.runtime_tuning import tune_runtime

log = logging.getLogger(__name__)
# How often a checking process looks whether the API process it serves is still there: an orphan
# lingers at most this long, and the look costs a few microseconds.
PARENT_CHECK_INTERVAL_S = 0.25


@dataclass(frozen=True)
class Verdict:
    """A check's outcome, as it crosses back from a checking process: the snapshot's id, or why
    the body is refused (a PayloadRejected's status, message and code)."""

    snapshot_id: uuid.UUID | None
    status_code: int = 0
    message: str = ""
    code: str = ""

    def accepted(self) -> uuid.UUID:
        """The snapshot's id; PayloadRejected, as the check raised it, for a refused body."""
        if self.snapshot_id is None:
            raise PayloadRejected(self.status_code, self.message, self.code)
        return self.snapshot_id


def check(body: bytes, encoding: str | None, limit: int) -> Verdict:
    """The verdict on one request body (run in a checking process, or in a thread)."""
    try:
        return Verdict(decode_snapshot(body, encoding, limit).snapshot_id)
    except PayloadRejected as rejected:
        return Verdict(None, rejected.status_code, rejected.message, rejected.code)


def _exit_with(parent: int) -> None:
    """Ends this process once `parent` has: a pool's processes hold both ends of its queues, so
    they never see the API process's end (a kill, a crash, or uvicorn's own SIGTERM, which it
    raises again after its graceful shutdown, before any exit hook runs) and would otherwise live
    on."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_INTERVAL_S)
    os._exit(0)


def _start_checking_process(parent: int) -> None:
    """Each checking process's start: it ends with the API process `parent` (and not on a Ctrl-C
    to the terminal's process group, which the API process handles), and, its imports done, it
    freezes them out of the collector and sets the thresholds decodes are fast under, as every
    server process does. The parent's pid comes from the parent: one that died while this process
    was importing (~0.3 s) is not there to ask."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with, args=(parent,), name="exit-with-parent", daemon=True).start()
    tune_runtime()


_POOLS: dict[int, ProcessPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()
# After a pool failed twice in a row, checks run in a thread of the API process for this long, and a
# pool is tried again only then: a machine that cannot start processes (no /dev/shm, a pids limit)
# would otherwise pay two failed starts, ~0.3 s of CPU each, on every snapshot.
POOL_COOL_OFF_S = 60.0
_cool_off_until = 0.0


def _pool(processes: int, broken: ProcessPoolExecutor | None = None) -> ProcessPoolExecutor:
    """This process's pool of `processes` checking processes; a new one in place of `broken`."""
    with _POOLS_LOCK:
        pool = _POOLS.get(processes)
        if pool is None or pool is broken:
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
            # Spawned, not forked: a fork of a process running an event loop and threads (the
            # API's) copies their locks in whatever state they are.
            pool = ProcessPoolExecutor(
                processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_checking_process,
                initargs=(os.getpid(),),
            )
            _POOLS[processes] = pool
        return pool


class SnapshotChecks:
    """Where an API process checks the bodies it receives (see the module's docstring)."""

    def __init__(self, processes: int) -> None:
        self._processes = processes

    async def snapshot_id(self, body: bytes, encoding: str | None, limit: int) -> uuid.UUID:
        """The id of the snapshot in this body, once every check has passed; PayloadRejected, with
        what is wrong, for a body that fails one."""
        one = partial(check, body, encoding, limit)
        if self._processes and time.monotonic() >= _cool_off_until:
            pool: ProcessPoolExecutor | None = None
            for attempt in range(2):
                try:
                    pool = _pool(self._processes, broken=pool)
                    future = pool.submit(one)
                except (OSError, RuntimeError) as error:  # cannot start, or broken or shut down
                    log.error(
                        "snapshot-checking processes failed to start (attempt %s): %r", attempt + 1, error
                    )
                    continue
                try:
                    return (await asyncio.wrap_future(future)).accepted()
                except BrokenProcessPool:
                    log.error("a snapshot-checking process died (attempt %s)", attempt + 1)
            _cool_off()
        return (await anyio.to_thread.run_sync(one)).accepted()


def _cool_off() -> None:
    """Checks run in threads for POOL_COOL_OFF_S (one state per process, as the pools are)."""
    global _cool_off_until  # noqa: PLW0603
    _cool_off_until = time.monotonic() + POOL_COOL_OFF_S
    log.error("checking snapshot bodies in the API process for the next %.0f s", POOL_COOL_OFF_S)
