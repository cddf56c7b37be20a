"""The overview of one database: computed from what the agent sent, never made up.

Agent status from its last contact (heartbeat or snapshot) against the expected poll interval
(`Settings.agent_poll_interval_s`, the one place): within 3 intervals it is online (one late
delivery is normal: a slow cycle plus network retries), within 10 late, beyond that offline;
never connected when it has not called at all.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.databases.service import tenant_database
from control_plane.index_health.staleness import stale_drops
from control_plane.models import MonitoredDatabase
from control_plane.overview.repository import OverviewRepository
from control_plane.overview.schemas import AgentState, AgentStatus, Kpis, LoadPoint, Overview
from control_plane.recommendations.service import recommendation_out
from control_plane.tenancy.context import TenantContext

ONLINE_WITHIN_POLLS = 3
LATE_WITHIN_POLLS = 10
# Up to 6 hours, one point per snapshot (720 points at a 30 s poll); longer ranges by the hour.
PER_INTERVAL_UP_TO = timedelta(hours=6)


def agent_status(last_seen_at: datetime | None, now: datetime, poll_interval_s: float) -> AgentStatus:
    if last_seen_at is None:
        return "never"
    silent_s = (now - last_seen_at).total_seconds()
    if silent_s <= ONLINE_WITHIN_POLLS * poll_interval_s:
        return "online"
    if silent_s <= LATE_WITHIN_POLLS * poll_interval_s:
        return "late"
    return "offline"


def kpis_from(latest: tuple[datetime, dict[str, Any]] | None) -> Kpis:
    """The latest snapshot's server section (shared.wire.snapshot.ServerInfo, stored as sent)."""
    if latest is None:
        reason = "no snapshot received yet"
        return Kpis(
            tps=None,
            active_connections=None,
            max_connections=None,
            cache_hit_ratio=None,
            measured_at=None,
            missing={
                name: reason for name in ("tps", "active_connections", "max_connections", "cache_hit_ratio")
            },
        )
    collected_at, server = latest
    missing: dict[str, str] = {}
    tps = server.get("transactions_per_second")
    if tps is None:
        missing["tps"] = "the agent needs two readings of pg_stat_database: its first snapshot has none"
    ratio = server.get("cache_hit_ratio")
    if ratio is None:
        missing["cache_hit_ratio"] = "no shared blocks were hit or read in the interval (or an older agent)"
    connections = server.get("connections_by_state")
    active = connections.get("active", 0) if isinstance(connections, dict) and connections else None
    if active is None:
        missing["active_connections"] = "the snapshot has no pg_stat_activity counts (an older agent)"
    raw_max = (server.get("settings") or {}).get("max_connections")
    try:
        max_connections = int(raw_max) if raw_max is not None else None
    except ValueError:
        max_connections = None
    if max_connections is None:
        missing["max_connections"] = "the snapshot's settings do not include max_connections"
    return Kpis(
        tps=float(tps) if tps is not None else None,
        active_connections=active,
        max_connections=max_connections,
        cache_hit_ratio=float(ratio) if ratio is not None else None,
        measured_at=collected_at,
        missing=missing,
    )


class OverviewService:
    def __init__(self, session: AsyncSession, context: TenantContext, poll_interval_s: float) -> None:
        self._session = session
        self._context = context
        self._poll_interval_s = poll_interval_s

    async def overview(
        self, database_id: uuid.UUID, since: datetime, until: datetime, now: datetime
    ) -> Overview:
        database: MonitoredDatabase = await tenant_database(self._session, self._context, database_id)
        reads = OverviewRepository(self._session, self._context, database_id)
        if until - since <= PER_INTERVAL_UP_TO:
            resolution, load = "interval", await reads.load_per_interval(since, until)
        else:
            resolution, load = "hour", await reads.load_per_hour(since, until)
        open_ideas = await reads.open_recommendations()
        time_spent = await reads.time_per_statement(
            sorted({fingerprint for idea in open_ideas for fingerprint in idea.fingerprints}), since, until
        )

        def would_save_ms(idea: Any) -> float:
            # Benchmarked: the real time saved per day on the sandbox, over the range's days.
            saved_per_day = (idea.benchmark or {}).get("time_saved_ms_per_day")
            if idea.tier == "benchmarked" and saved_per_day is not None:
                return float(saved_per_day) * (until - since) / timedelta(days=1)
            if idea.tier == "demoted":
                return 0.0  # the real run found no gain worth ranking it for
            spent = sum(time_spent.get(fingerprint, 0.0) for fingerprint in idea.fingerprints)
            return spent * (idea.improvement_pct or 0.0) / 100

        ranked = sorted(
            open_ideas, key=lambda idea: (-would_save_ms(idea), -(idea.improvement_pct or 0.0), str(idea.id))
        )
        # The same allowed_actions as the recommendations page gives each of them.
        stale = await stale_drops(self._session, self._context, database_id, ranked)
        return Overview(
            agent=AgentState(
                status=agent_status(database.agent_last_seen_at, now, self._poll_interval_s),
                last_seen_at=database.agent_last_seen_at,
                version=database.agent_version,
            ),
            kpis=kpis_from(await reads.latest_server()),
            load=[LoadPoint(at=at, total_exec_time_ms=round(ms, 3), calls=calls) for at, ms, calls in load],
            load_resolution=resolution,
            recommendations=[
                recommendation_out(
                    idea,
                    self._context,
                    has_sandbox=database.agent_sandbox,
                    approve_refusal=stale.get(idea.id),
                )
                for idea in ranked
            ],
        )
