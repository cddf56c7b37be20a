"""How many snapshots a server ingests at once, so that the dashboard's reads never queue behind a
burst of agents.

An ingestion keeps about one core busy from start to end: decoding the body in Python, then
writing its statements in PostgreSQL. Let every agent in at once and they take every core; the
reads, which need a few milliseconds each, then wait behind them for hundreds. So a server takes
one snapshot at a time per web worker (which also caps the decoded bodies held in memory), and
`INGESTIONS_PER_HOST` at a time over all its workers, through a PostgreSQL advisory lock named
after the host: it is taken in the request's transaction and goes with it, whatever happens to the
request. Other hosts (replicas) have locks of their own. Agents are not in a hurry: they send every
30 seconds and a snapshot waits its turn in well under a second.
"""

from __future__ import annotations

import os
import random
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# Half the cores: the other half stay free for reads (and PostgreSQL, when it shares the host).
INGESTIONS_PER_HOST = max(1, (os.cpu_count() or 1) // 2)
_HOST = socket.gethostname()
_WORKER_SLOT = anyio.CapacityLimiter(1)
_TRY = text("SELECT pg_try_advisory_xact_lock(hashtextextended(:name, 0))")
_WAIT = text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))")


def _lock_name(slot: int) -> str:
    return f"optischema.ingestion:{_HOST}:{slot}"


def worker_slot() -> anyio.CapacityLimiter:
    """This process's one slot: hold it from before the body is read until the snapshot is stored."""
    return _WORKER_SLOT


@asynccontextmanager
async def ingestion_turn(session: AsyncSession) -> AsyncIterator[None]:
    """Waits for this process's slot, then for one of the host's; the host's is held until the
    session's transaction ends."""
    async with _WORKER_SLOT:
        slots = list(range(INGESTIONS_PER_HOST))
        random.shuffle(slots)  # spreading waiters, not a secret
        for slot in slots:
            if await session.scalar(_TRY, {"name": _lock_name(slot)}):
                break
        else:
            await session.execute(_WAIT, {"name": _lock_name(slots[0])})
        yield
