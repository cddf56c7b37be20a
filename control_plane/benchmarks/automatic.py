"""The automatic benchmark: every verified index timed on the sandbox before anyone approves it.

A background job (every OPTISCHEMA_BENCHMARK_AUTOMATIC_INTERVAL_S, 60 s by default; off with
OPTISCHEMA_BENCHMARK_AUTOMATIC=false) queues a `benchmark_index` job for the best never-benchmarked
verified create_index of each database whose agent reported a sandbox and has no benchmark queued.
One at a time per database: the agent runs its jobs in turn, and two indexes timed at once on one
sandbox would each slow the other's statements. A benchmark that failed or was demoted is not tried
again on its own; a person can still ask (`POST /recommendations/{id}/benchmark`).
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.benchmarks.service import BenchmarkService
from control_plane.databases.repository import tenants_with_databases
from control_plane.db.session import tenant_session
from control_plane.settings import Settings
from control_plane.tenancy.context import TenantContext
from control_plane.workers.each_tenant import for_each_tenant


async def queue_automatic_benchmarks(engine: AsyncEngine, settings: Settings) -> int:
    """One turn over every tenant, one transaction each; returns how many benchmarks were queued."""
    if not settings.benchmark_automatic:
        return 0

    async def queue(tenant_id: uuid.UUID) -> int:
        context = TenantContext(tenant_id=tenant_id, principal="system")
        async with tenant_session(engine, context) as session:
            return await BenchmarkService(session, context, settings).queue_automatic()

    return await for_each_tenant(engine, tenants_with_databases, queue, "automatic benchmarks")
