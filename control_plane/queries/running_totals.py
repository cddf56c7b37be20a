"""The running-totals job: brings each database's prefix sums of the daily rollups up to yesterday.

A background job (every OPTISCHEMA_RUNNING_TOTALS_INTERVAL_S, 600 s by default) that, per database,
adds the days that are over (by OPTISCHEMA_RUNNING_TOTALS_SETTLE_S) to `statement_running_totals`,
and recomputes from the earliest day a late snapshot was stored for (an agent's spool replaying an
outage). A first computation of 30 days of 10,000 statements writes 300,000 rows in ~3 s; each day
after that, ~10,000 rows in ~50 ms. Readers (QueryRepository.counters_select) use the totals only
while they hold every snapshot of their days, so a slow or stopped job costs speed, never exactness.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.databases.repository import tenants_with_databases
from control_plane.db.session import tenant_session
from control_plane.ingestion.repository import daily_bucket
from control_plane.queries.running_totals_repository import (
    DAY,
    RunningTotalsRepository,
    tenant_database_ids,
)
from control_plane.settings import Settings
from control_plane.tenancy.context import TenantContext
from control_plane.workers.each_tenant import for_each_tenant

log = logging.getLogger(__name__)


async def refresh_database(
    repository: RunningTotalsRepository, now: datetime, settle: timedelta, retention_days: int
) -> int:
    """Brings one database's totals up to the last day over by `settle`; returns the days computed."""
    await repository.lock()
    # Days over by the settle time whose hours are all in their daily rollup (folded).
    folded = await repository.days_folded_before()
    if folded is None:
        return 0
    through = min(daily_bucket(now - settle), folded) - DAY
    span = await repository.daily_span()
    if span is None or span[0] > through:
        return 0  # no day of history is over yet
    state = await repository.state()
    first_day, start = span[0], span[0]
    if state is not None:
        stale = await repository.first_stale_day(state)
        start = state.through_day + DAY if stale is None else daily_bucket(stale)
        first_day = state.first_day
        if start <= state.first_day or start - DAY < state.kept_from:
            first_day = start = span[0]  # history before the first total: sum everything again
        elif start > through:
            return 0  # nothing new, nothing late
    kept_from = max(first_day, daily_bucket(now) - timedelta(days=retention_days))
    await repository.forget_from(start)
    day = start
    while day <= through:
        await repository.add_day(day)
        day += DAY
    await repository.forget_before(kept_from)
    await repository.save_state(first_day, kept_from, through, settle)
    return (through - start) // DAY + 1


async def maintain_running_totals(
    engine: AsyncEngine, settings: Settings, now: datetime | None = None
) -> int:
    """The background job over every tenant's databases; one transaction per database."""
    moment = now or datetime.now(UTC)
    settle = timedelta(seconds=settings.running_totals_settle_s)

    async def refresh_tenant(tenant_id: uuid.UUID) -> int:
        context = TenantContext(tenant_id=tenant_id, principal="system")
        async with tenant_session(engine, context) as session:
            databases = await tenant_database_ids(session, context)
        computed = 0
        for database_id in databases:
            computed += await _refresh(engine, context, database_id, moment, settle, settings)
        return computed

    return await for_each_tenant(engine, tenants_with_databases, refresh_tenant, "running totals")


async def _refresh(
    engine: AsyncEngine,
    context: TenantContext,
    database_id: uuid.UUID,
    now: datetime,
    settle: timedelta,
    settings: Settings,
) -> int:
    async with tenant_session(engine, context) as session:
        repository = RunningTotalsRepository(session, context, database_id)
        days = await refresh_database(repository, now, settle, settings.statement_stats_retention_days)
    if days:
        log.info("running totals of database %s: %s days computed", database_id, days)
    return days
