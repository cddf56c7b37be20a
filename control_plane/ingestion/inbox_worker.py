"""The workers' side of the snapshot inbox: claim a batch of one database's entries, store them,
delete them, in one transaction.

Run by the background jobs of every process with workers (`OPTISCHEMA_WORKERS=on` or `only`), so
ingestion scales with the processes started, on one machine or several: `FOR UPDATE SKIP LOCKED`
keeps any two from taking the same entry. The body was validated when it was accepted; it is
decoded again here, through the same code, and stored by `IngestionService.store`. Of the
statements only the fingerprints and counters are read (payload.parse_snapshot's `counters_only`):
their text, most of the body, is decoded only for a statement the catalog does not have yet.

A batch is up to BATCH_SIZE entries of one database (an agent's backlog after an outage, or a
queue longer than the workers keep up with): stored together they share one transaction and
commit, one statement catalog lookup, and their rollup rows are added up before they are upserted
(four snapshots of one hour: one upsert per statement instead of four). The busier the inbox, the
bigger the batches and the cheaper each snapshot. A batch that fails to store is stored again
entry by entry, so that only the entry at fault waits for a retry.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from datetime import timedelta
from functools import partial
from pathlib import Path

import anyio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from control_plane.db.availability import as_unavailable
from control_plane.db.session import lookup_session, tenant_session
from control_plane.ingestion.inbox import InboxEntry, SnapshotInbox, tenants_with_inbox
from control_plane.ingestion.payload import DecodedSnapshot, decode_snapshot
from control_plane.ingestion.schema_writes import SchemaWrites, schema_writes
from control_plane.ingestion.service import IngestionService
from control_plane.settings import Settings
from control_plane.tenancy.context import TenantContext

log = logging.getLogger(__name__)
# A body that fails to store is tried again after 1 s, 2 s, 4 s, ... at most 10 minutes apart: it
# never holds up the entries behind it, and a fault that passes (a missing partition) heals.
RETRY_BASE = timedelta(seconds=1)
RETRY_MAX = timedelta(minutes=10)
# 8 snapshots of 5,000 statements: ~40 MB decoded at once, a transaction of ~0.5 s.
BATCH_SIZE = 8
# The worker's transaction commits without waiting for its WAL to reach disk. What it stores is
# not the only copy: the body stays in the inbox, committed durably when it was accepted (202),
# and the same transaction deletes it. A crash that loses this commit loses the deletion with it,
# so the entry is claimable again and is stored then, still exactly once (`snapshots` is keyed by
# snapshot_id). Waiting for the flush is a disk sync per batch (milliseconds on an SSD, more on
# network storage) for nothing the inbox does not already guarantee.
# work_mem: a batch's rows (8 x 5,000, ~10 MB) are gathered and sorted once per rollup; at the
# default 4 MB they spill to temporary files (seen: 512 blocks written and read per batch of 4).
_WORKER_TRANSACTION = text(
    "SELECT set_config('synchronous_commit', 'off', true), set_config('work_mem', '64MB', true)"
)


# A workers-only process (OPTISCHEMA_WORKERS=only) that shares its host with the API yields the CPU
# to it: storing a snapshot is ~150 ms of CPU and a request waits behind every runnable process at
# the same priority, so on 2 cores four busy workers made the API's answers wait their turn. At
# niceness 10 a worker gets ~1/10 of an API process's share when both want a core, and all of a
# core nobody else wants: on a host of its own this changes nothing. Its PostgreSQL backends are
# another host's (or the database's) processes, unaffected.
WORKERS_ONLY_NICENESS = 10


def yield_cpu_to_the_api(settings: Settings) -> None:
    """Lowers this workers-only process's priority, every thread of it (Linux renices a thread at a
    time; threads started later inherit it), once; nothing for a process that serves the API."""
    if settings.workers != "only" or os.getpriority(os.PRIO_PROCESS, 0) >= WORKERS_ONLY_NICENESS:
        return
    tasks = Path("/proc/self/task")  # Linux; elsewhere the process's priority is all there is
    for thread in tasks.iterdir() if tasks.is_dir() else []:
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, int(thread.name), WORKERS_ONLY_NICENESS)
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, WORKERS_ONLY_NICENESS)


def retry_delay(attempts: int) -> timedelta:
    delay: timedelta = RETRY_BASE * 2 ** max(0, attempts)
    return min(delay, RETRY_MAX)


async def store_inbox(engine: AsyncEngine, settings: Settings, limit: int | None = None) -> int:
    """Stores entries until none is due (or `limit` are taken); returns how many were taken."""
    yield_cpu_to_the_api(settings)
    taken = 0
    while limit is None or taken < limit:
        async with lookup_session(engine) as session:
            tenants = await tenants_with_inbox(session)
        took = 0
        for tenant_id in tenants:
            while limit is None or taken + took < limit:
                size = BATCH_SIZE if limit is None else min(BATCH_SIZE, limit - taken - took)
                count = await store_batch(engine, settings, tenant_id, size)
                if count == 0:
                    break
                took += count
        if took == 0:
            return taken
        taken += took
    return taken


def _decode_all(entries: list[InboxEntry], limit: int) -> list[DecodedSnapshot | Exception]:
    outcomes: list[DecodedSnapshot | Exception] = []
    for entry in entries:
        try:
            decoded = decode_snapshot(entry.body, entry.content_encoding, limit, counters_only=True)
            if decoded.snapshot_id != entry.snapshot_id:
                raise ValueError(f"the body holds snapshot {decoded.snapshot_id}, not {entry.snapshot_id}")
            outcomes.append(decoded)
        except Exception as error:
            outcomes.append(error)
    return outcomes


async def store_batch(engine: AsyncEngine, settings: Settings, tenant_id: uuid.UUID, size: int) -> int:
    """Claims up to `size` of one database's entries and stores them; returns how many it took."""
    context = TenantContext(tenant_id=tenant_id, principal="system")
    writes = schema_writes(settings.schema_stats_interval_s)
    entries: list[InboxEntry] = []
    try:
        async with tenant_session(engine, context) as session:
            await session.execute(_WORKER_TRANSACTION)
            inbox = SnapshotInbox(session, context)
            entries = await inbox.claim_batch(size)
            if not entries:
                return 0
            # Decoding 5,000 statements is ~20 ms of CPU: in a thread, so this process's other jobs go on.
            outcomes = await anyio.to_thread.run_sync(partial(_decode_all, entries, settings.max_body_bytes))
            decoded: list[tuple[InboxEntry, DecodedSnapshot]] = []
            for entry, outcome in zip(entries, outcomes, strict=True):
                if isinstance(outcome, Exception):
                    await _failed(inbox, entry, outcome)
                else:
                    decoded.append((entry, outcome))
            if not await _stored(session, context, decoded, writes) and len(decoded) > 1:
                for one in decoded:  # again one by one: only the entry at fault waits
                    await _stored(session, context, [one], writes)
    except BaseException:
        # The transaction is lost, and any schema statistics it wrote.
        writes.forget({entry.database_id for entry in entries})
        raise
    return len(entries)


async def _stored(
    session: AsyncSession,
    context: TenantContext,
    batch: list[tuple[InboxEntry, DecodedSnapshot]],
    writes: SchemaWrites,
) -> bool:
    """Stores the batch and deletes its entries; False (nothing stored) if it failed. An entry
    alone that fails is postponed with its error."""
    if not batch:
        return True
    database_id = batch[0][0].database_id
    agent = TenantContext(tenant_id=context.tenant_id, principal="agent", database_id=database_id)
    inbox = SnapshotInbox(session, context)
    try:
        async with session.begin_nested():  # a failed store keeps the claims and their locks
            await IngestionService(session, agent, writes).store([decoded for _, decoded in batch])
    except Exception as error:
        writes.forget({database_id})  # rolled back to the savepoint, with any schema statistics written
        if as_unavailable(error) is not None:
            raise  # the whole transaction is lost: the entries are claimable again when it is back
        if len(batch) == 1:
            await _failed(inbox, batch[0][0], error)
        else:
            log.info(
                "a batch of %s snapshots failed to store (%s); storing them one by one", len(batch), error
            )
        return False
    await inbox.delete_many([entry for entry, _ in batch])
    return True


async def _failed(inbox: SnapshotInbox, entry: InboxEntry, error: Exception) -> None:
    log.error("storing snapshot %s failed; it stays in the inbox", entry.snapshot_id, exc_info=error)
    await inbox.postpone(entry, f"{type(error).__name__}: {error}", retry_delay(entry.attempts))
