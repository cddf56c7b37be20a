"""The workers' side of the snapshot inbox: claim an entry, store it, delete it, one transaction each.

Run by the background jobs of every process with workers (`OPTISCHEMA_WORKERS=on` or `only`), so
ingestion scales with the processes started, on one machine or several: each stores one snapshot
at a time (about one core's worth while it does), and `FOR UPDATE SKIP LOCKED` keeps any two from
taking the same entry. The body was validated when it was accepted; it is decoded again here,
through the same code, and stored by the unchanged `IngestionService.store`.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from functools import partial

import anyio
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from control_plane.db.availability import as_unavailable
from control_plane.db.session import lookup_session, tenant_session
from control_plane.ingestion.inbox import InboxEntry, SnapshotInbox, tenants_with_inbox
from control_plane.ingestion.payload import decode_snapshot
from control_plane.ingestion.service import IngestionService
from control_plane.settings import Settings
from control_plane.tenancy.context import TenantContext

log = logging.getLogger(__name__)
# A body that fails to store is tried again after 1 s, 2 s, 4 s, ... at most 10 minutes apart: it
# never holds up the entries behind it, and a fault that passes (a missing partition) heals.
RETRY_BASE = timedelta(seconds=1)
RETRY_MAX = timedelta(minutes=10)


def retry_delay(attempts: int) -> timedelta:
    delay: timedelta = RETRY_BASE * 2 ** max(0, attempts)
    return min(delay, RETRY_MAX)


async def store_inbox(engine: AsyncEngine, settings: Settings, limit: int | None = None) -> int:
    """Stores entries until none is due (or `limit` are stored); returns how many were taken."""
    taken = 0
    while limit is None or taken < limit:
        async with lookup_session(engine) as session:
            tenants = await tenants_with_inbox(session)
        took = 0
        for tenant_id in tenants:
            while limit is None or taken + took < limit:
                if not await store_one(engine, settings, tenant_id):
                    break
                took += 1
        if took == 0:
            return taken
        taken += took
    return taken


async def store_one(engine: AsyncEngine, settings: Settings, tenant_id: uuid.UUID) -> bool:
    """Claims one of the tenant's entries and stores it; False when it had none left to claim."""
    context = TenantContext(tenant_id=tenant_id, principal="system")
    async with tenant_session(engine, context) as session:
        inbox = SnapshotInbox(session, context)
        entry = await inbox.claim()
        if entry is None:
            return False
        try:
            async with session.begin_nested():  # a failed store keeps the claim and its lock
                await _store(session, context, entry, settings.max_body_bytes)
        except Exception as error:
            if as_unavailable(error) is not None:
                raise  # the whole transaction is lost: the entry is claimable again when it is back
            log.exception("storing snapshot %s failed; it stays in the inbox", entry.snapshot_id)
            await inbox.postpone(entry, f"{type(error).__name__}: {error}", retry_delay(entry.attempts))
        else:
            await inbox.delete(entry)
    return True


async def _store(session: AsyncSession, context: TenantContext, entry: InboxEntry, limit: int) -> None:
    agent = TenantContext(tenant_id=context.tenant_id, principal="agent", database_id=entry.database_id)
    # Decoding 5,000 statements is ~50 ms of CPU: in a thread, so this process's other jobs go on.
    snapshot = await anyio.to_thread.run_sync(
        partial(decode_snapshot, entry.body, entry.content_encoding, limit)
    )
    if snapshot.snapshot_id != entry.snapshot_id:
        raise ValueError(f"the body holds snapshot {snapshot.snapshot_id}, not {entry.snapshot_id}")
    await IngestionService(session, agent).store(snapshot)
