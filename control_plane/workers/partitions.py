"""Keeps the statement time series partitioned: days ahead created, days past retention dropped.

Both functions are idempotent, so two replicas running this at once do no harm.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.db.session import lookup_session

log = logging.getLogger(__name__)
DAYS_AHEAD = 7


async def maintain_partitions(engine: AsyncEngine, retention_days: int, now: datetime | None = None) -> int:
    today = (now or datetime.now(UTC)).date()
    async with lookup_session(engine) as session:
        await session.execute(
            text("SELECT optischema_ensure_statement_stats_partitions(:day, :days)"),
            {"day": today - timedelta(days=1), "days": DAYS_AHEAD + 1},
        )
        dropped = await session.scalar(
            text("SELECT optischema_drop_statement_stats_partitions(:before)"),
            {"before": today - timedelta(days=retention_days)},
        )
    if dropped:
        log.info("dropped %s statement_stats partitions past the %s-day retention", dropped, retention_days)
    return int(dropped or 0)
