"""The daily-rollups job: folds each database's hourly rollups of the hours that are over into its
daily rollups (see daily_folds_repository and migration 0018).

Every OPTISCHEMA_DAILY_FOLD_INTERVAL_S (300 s by default), per database, in a transaction of its
own: the hours from the database's mark up to the current hour, once an hour (the other turns
find the mark in place and take no lock). A 5,000-statement database's day is summed again from up
to 24 x 5,000 hourly rows, where each of its 120 snapshots an hour used to upsert 5,000 daily rows.
A late or stopped job costs readers a few more hourly rows for the hours not folded yet, never
exactness.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.databases.repository import DatabaseRepository, tenants_with_databases
from control_plane.db.session import tenant_session
from control_plane.ingestion.daily_folds_repository import DailyFoldRepository
from control_plane.ingestion.repository import rollup_bucket
from control_plane.tenancy.context import TenantContext
from control_plane.workers.each_tenant import for_each_tenant

log = logging.getLogger(__name__)


async def fold_daily_rollups(engine: AsyncEngine, now: datetime | None = None) -> int:
    """Folds every database's hours before the one `now` falls in; returns how many databases had
    hours to fold."""
    before = rollup_bucket(now or datetime.now(UTC))

    async def fold_tenant(tenant_id: uuid.UUID) -> int:
        context = TenantContext(tenant_id=tenant_id, principal="system")
        async with tenant_session(engine, context) as session:
            databases = [database.id for database in await DatabaseRepository(session, context).list()]
        folded = 0
        for database_id in databases:
            try:
                async with tenant_session(engine, context) as session:
                    folded += await DailyFoldRepository(session, tenant_id, database_id).fold(before)
            except Exception:  # one database (deleted meanwhile, say) must not hold up the others
                log.exception("folding the days of database %s failed; retried next turn", database_id)
        return folded

    return await for_each_tenant(engine, tenants_with_databases, fold_tenant, "daily rollups")
