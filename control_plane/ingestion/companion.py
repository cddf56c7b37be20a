"""Snapshots decoded and stored in a companion process of each web worker, not in the worker itself.

Ingesting a snapshot of 5,000 statements takes some 100 ms of Python CPU: inflating, parsing and
validating the body, then writing its columns out for PostgreSQL. In the web worker, even in a
thread, that CPU holds the interpreter lock the event loop needs for every step of every other
request: in the benchmark, reads served by a worker while it ingested took three times as long
(p50 77 ms against 26 ms, p99 275 ms against 98 ms). So the server (`optischema-control-plane`)
gives each web worker one companion process that does nothing else: the worker authenticates the
agent, reads the body and hands it over with the tenant and database it belongs to; the companion
decodes it and stores it, in its own transaction, with the code the worker would have run
(`IngestionService.store`), and answers what the worker then answers. The reads the worker serves
meanwhile share the machine's cores with it, not an interpreter.

An app driven in-process (tests with TestClient) has no companion: its worker ingests itself.
"""

from __future__ import annotations

import asyncio
import gc
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

from fastapi import HTTPException, status
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.db.availability import MetadataUnavailable
from control_plane.db.engine import create_engine
from control_plane.db.session import tenant_session
from control_plane.ingestion.admission import ingestion_turn
from control_plane.ingestion.payload import PayloadRejected, decode_snapshot
from control_plane.ingestion.service import IngestionService
from control_plane.settings import Settings
from control_plane.tenancy.context import TenantContext
from shared.log_setup import configure_logging

log = logging.getLogger(__name__)
WORKER_CHECK_INTERVAL_S = 1.0
# Ingesting is background work: when the cores are short, the web workers serving reads go first.
# Alone on a core (an agent's snapshot, nobody reading), a companion runs at full speed anyway.
COMPANION_NICENESS = 10


@dataclass(frozen=True)
class Outcome:
    """What the companion did with one body: stored it, found it a resend, or refused it."""

    snapshot_id: str | None = None
    stored: bool = False
    rejected: tuple[int, str, str] | None = None  # status, message, code (see PayloadRejected)


class CompanionUnavailable(HTTPException):
    def __init__(self) -> None:
        super().__init__(status.HTTP_503_SERVICE_UNAVAILABLE, "snapshot ingestion is restarting; send again")


class Companion:
    """The web worker's side: one companion process, started before the worker serves requests."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._executor = self._start()

    def _start(self) -> ProcessPoolExecutor:
        executor = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_companion,
            initargs=(self._settings, os.getpid()),
        )
        executor.submit(_ready).result()  # imports done and engine built before the first body
        return executor

    async def ingest(self, context: TenantContext, body: bytes, encoding: str | None) -> Outcome:
        assert context.database_id is not None
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._executor,
                _ingest,
                context.tenant_id,
                context.database_id,
                body,
                encoding,
                self._settings.max_body_bytes,
            )
        except BrokenProcessPool:
            log.error("the snapshot ingestion process died; starting a new one")
            self._executor = await asyncio.to_thread(self._start)
            raise CompanionUnavailable() from None

    def close(self) -> None:
        """Lets the snapshot being stored finish, then ends the process."""
        self._executor.shutdown(wait=True, cancel_futures=True)


@dataclass
class _Process:
    companion: Companion | None = None  # in a web worker
    loop: asyncio.AbstractEventLoop | None = None  # in the companion
    engine: AsyncEngine | None = None  # in the companion


_THIS_PROCESS = _Process()


def start_companion(settings: Settings) -> None:
    """Called by the server in each web worker process before it serves requests."""
    _THIS_PROCESS.companion = Companion(settings)


def stop_companion() -> None:
    """Called by the server when the web worker shuts down."""
    found, _THIS_PROCESS.companion = _THIS_PROCESS.companion, None
    if found is not None:
        found.close()


def companion() -> Companion | None:
    return _THIS_PROCESS.companion


# --- the companion process itself ------------------------------------------------------------


def _start_companion(settings: Settings, worker_pid: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the process group: the worker decides
    os.nice(COMPANION_NICENESS)
    threading.Thread(target=_exit_with, args=(worker_pid,), name="exit-with-worker", daemon=True).start()
    configure_logging(settings.log_level)
    _THIS_PROCESS.loop = asyncio.new_event_loop()
    _THIS_PROCESS.engine = create_engine(settings, pool_size=1, max_overflow=1)
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 10)  # see control_plane.server.GC_THRESHOLDS


def _exit_with(worker_pid: int) -> None:
    """Ends this process once its worker is gone, however the worker went (even SIGKILL)."""
    while os.getppid() == worker_pid:
        time.sleep(WORKER_CHECK_INTERVAL_S)
    os._exit(0)


def _ready() -> bool:
    return True


def _ingest(
    tenant_id: uuid.UUID, database_id: uuid.UUID, body: bytes, encoding: str | None, limit: int
) -> Outcome:
    loop = _THIS_PROCESS.loop
    assert loop is not None
    try:
        return loop.run_until_complete(_store(tenant_id, database_id, body, encoding, limit))
    except MetadataUnavailable as unavailable:  # pickles: the worker answers 503 with Retry-After
        log.warning(
            "storing a snapshot failed: the metadata database is unavailable (%s)", unavailable.reason
        )
        raise MetadataUnavailable(unavailable.reason) from None
    except Exception as error:
        # What crosses back to the worker must pickle: a driver's exception may not.
        log.exception("storing a snapshot failed")
        raise RuntimeError(f"storing the snapshot failed: {type(error).__name__}") from None


async def _store(
    tenant_id: uuid.UUID, database_id: uuid.UUID, body: bytes, encoding: str | None, limit: int
) -> Outcome:
    engine = _THIS_PROCESS.engine
    assert engine is not None
    context = TenantContext(tenant_id=tenant_id, principal="agent", database_id=database_id)
    try:
        async with tenant_session(engine, context) as session, ingestion_turn(session):
            snapshot = decode_snapshot(body, encoding, limit)  # this process has nothing else to do
            stored = await IngestionService(session, context).store(snapshot)
    except PayloadRejected as rejected:
        return Outcome(rejected=(rejected.status_code, rejected.message, rejected.code))
    return Outcome(snapshot_id=str(snapshot.snapshot_id), stored=stored)
