"""A background job's turn over the tenants that have work: one at a time, each on its own.

A job lists the tenants it has work for in a lookup session (each job has its own SECURITY DEFINER
lookup, which reads tenant ids and nothing else) and then works for each one in its own tenant
sessions. One tenant's failure is logged and the others still get their turn; the next turn retries.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from control_plane.db.session import lookup_session

log = logging.getLogger(__name__)


async def for_each_tenant(
    engine: AsyncEngine,
    tenants: Callable[[AsyncSession], Awaitable[list[uuid.UUID]]],
    work: Callable[[uuid.UUID], Awaitable[int]],
    what: str,
) -> int:
    """Runs `work` for every tenant `tenants` lists; returns the sum of what `work` returned."""
    async with lookup_session(engine) as session:
        listed = await tenants(session)
    done = 0
    for tenant_id in listed:
        try:
            done += await work(tenant_id)
        except Exception:  # one tenant's trouble must not stop the others'
            log.exception("%s of tenant %s failed; retried next turn", what, tenant_id)
    return done
