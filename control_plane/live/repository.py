"""Live tickets and the "what changed since" poll. Every statement is tenant-scoped (RLS filters again).

The poll is one round trip: a UNION ALL of four range scans, each on an index that leads with
(tenant_id, database_id) and ends with the time the row changed (migration 0008), so its cost is
the rows that changed in the window, not the database's history.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, Text, cast, delete, func, insert, literal, null, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.live.schemas import Change, Redeemed
from control_plane.models import AgentJob, AnalysisRun, LiveTicket, Recommendation, Snapshot, User
from control_plane.tenancy.context import TenantContext

NO_SYNC = {"synchronize_session": False}


class LiveRepository:
    def __init__(self, session: AsyncSession, context: TenantContext) -> None:
        self._session = session
        self._tenant_id = context.tenant_id

    async def now(self) -> datetime:
        """The metadata database's clock: the one every `changed_at` was stamped with."""
        found: datetime = (await self._session.execute(select(func.now()))).scalar_one()
        return found

    async def store_ticket(
        self, ticket_hmac: bytes, user_id: uuid.UUID, token_generation: int, ttl: timedelta
    ) -> None:
        # Tickets that were never redeemed are swept here, by their own tenant: at most one page
        # load's worth per user per TTL, so the table stays tiny without a background job.
        await self._session.execute(
            delete(LiveTicket)
            .where(LiveTicket.tenant_id == self._tenant_id, LiveTicket.expires_at <= func.now())
            .execution_options(**NO_SYNC)
        )
        await self._session.execute(
            insert(LiveTicket).values(
                tenant_id=self._tenant_id,
                ticket_hmac=ticket_hmac,
                user_id=user_id,
                token_generation=token_generation,
                expires_at=func.now() + ttl,
            )
        )

    async def redeem(self, ticket_hmac: bytes) -> Redeemed | None:
        """Deletes the ticket (used once, valid or not) and says whom it was for if still valid."""
        row = (
            await self._session.execute(
                delete(LiveTicket)
                .where(LiveTicket.tenant_id == self._tenant_id, LiveTicket.ticket_hmac == ticket_hmac)
                .returning(
                    LiveTicket.user_id,
                    LiveTicket.token_generation,
                    (LiveTicket.expires_at > func.now()).label("valid"),
                )
                .execution_options(**NO_SYNC)
            )
        ).first()
        if row is None or not row.valid:
            return None
        return Redeemed(user_id=row.user_id, token_generation=row.token_generation)

    async def role_if_signed_in(self, user_id: uuid.UUID, token_generation: int) -> str | None:
        """The user's role while the session the ticket came from still stands (not disabled, not
        signed out, password not changed since): the user row decides, as for every request."""
        role: str | None = await self._session.scalar(
            select(User.role).where(
                User.tenant_id == self._tenant_id,
                User.id == user_id,
                User.disabled_at.is_(None),
                User.token_generation == token_generation,
            )
        )
        return role

    async def changes_since(self, database_id: uuid.UUID, since: datetime, limit: int) -> list[Change]:
        """What changed for the database at or after `since`, oldest first, at most `limit` rows."""
        no_text = cast(null(), Text)

        def scoped(model: Any, changed_at: Any) -> list[Any]:
            return [model.tenant_id == self._tenant_id, model.database_id == database_id, changed_at >= since]

        snapshots = select(
            literal("snapshot").label("source"),
            Snapshot.snapshot_id.label("object_id"),
            no_text.label("kind"),
            no_text.label("status"),
            Snapshot.collected_at.label("collected_at"),
            Snapshot.received_at.label("changed_at"),
        ).where(*scoped(Snapshot, Snapshot.received_at))
        no_time = cast(null(), DateTime(timezone=True))
        jobs = select(
            literal("agent_job"),
            AgentJob.id,
            AgentJob.kind,
            AgentJob.status,
            no_time,
            AgentJob.status_changed_at,
        ).where(*scoped(AgentJob, AgentJob.status_changed_at))
        runs = select(
            literal("analysis_run"),
            AnalysisRun.id,
            no_text,
            AnalysisRun.status,
            no_time,
            AnalysisRun.status_changed_at,
        ).where(*scoped(AnalysisRun, AnalysisRun.status_changed_at))
        recommendations = select(
            literal("recommendation"),
            Recommendation.id,
            no_text,
            Recommendation.status,
            no_time,
            Recommendation.status_changed_at,
        ).where(*scoped(Recommendation, Recommendation.status_changed_at))
        every = union_all(snapshots, jobs, runs, recommendations).subquery()
        rows = await self._session.execute(select(every).order_by(every.c.changed_at).limit(limit))
        return [
            Change(
                source=row.source,
                object_id=row.object_id,
                kind=row.kind,
                status=row.status,
                collected_at=row.collected_at,
                changed_at=row.changed_at,
            )
            for row in rows
        ]
