"""Agent check-ins, snapshots accepted into the inbox, and their storage (by a worker), each in its
caller's one transaction."""

from __future__ import annotations

import uuid

import anyio
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.analysis.runs_repository import AnalysisWatchRepository
from control_plane.benchmarks.repository import BenchmarkRepository
from control_plane.databases.repository import AgentSpool, DatabaseRepository
from control_plane.edges.metrics import SNAPSHOTS
from control_plane.ingestion.daily_folds_repository import DailyFoldRepository
from control_plane.ingestion.inbox import SnapshotInbox
from control_plane.ingestion.payload import DecodedSnapshot
from control_plane.ingestion.repository import IngestionRepository, daily_bucket
from control_plane.ingestion.schema_writes import SchemaWrites
from control_plane.recommendations.service import RecommendationService
from control_plane.tenancy.context import TenantContext
from shared.wire.heartbeat import Heartbeat

# A database's privacy_mode when the agent says nothing of it (an older agent, or no privacy mode).
PRIVACY_OFF = "off"


class IngestionService:
    def __init__(
        self, session: AsyncSession, context: TenantContext, schema_writes: SchemaWrites | None = None
    ) -> None:
        """`schema_writes` says when a worker writes the latest schema statistics; without it, at
        every store."""
        assert context.principal == "agent" and context.database_id is not None
        self._database_id = context.database_id
        self._schema_writes = schema_writes
        self._databases = DatabaseRepository(session, context)
        self._ingestion = IngestionRepository(session, context, context.database_id)
        self._daily_folds = DailyFoldRepository(session, context.tenant_id, context.database_id)
        self._recommendations = RecommendationService(session, context)
        self._analysis_watches = AnalysisWatchRepository(session, context)
        self._benchmarks = BenchmarkRepository(session, context)
        self._inbox = SnapshotInbox(session, context)

    async def heartbeat(self, heartbeat: Heartbeat) -> None:
        await self._databases.record_agent_contact(
            self._database_id,
            agent_version=heartbeat.agent_version,
            server_version=heartbeat.server_version,
            privacy_mode=heartbeat.privacy or PRIVACY_OFF,
            spool=AgentSpool(spooled=heartbeat.spooled_snapshots, dropped=heartbeat.dropped_snapshots),
        )
        # Absent (an older agent, or one without a sandbox): no benchmark jobs for it.
        await self._benchmarks.record_sandbox(self._database_id, bool(heartbeat.sandbox))

    async def accept(self, snapshot_id: uuid.UUID, body: bytes, content_encoding: str | None) -> bool:
        """Keeps a checked body (see snapshot_checks) for the workers to store; False (and nothing
        kept) for a resend."""
        accepted = await self._inbox.accept(self._database_id, snapshot_id, body, content_encoding)
        # Counted by the process that answers: "stored" is counted by the worker that stores it.
        SNAPSHOTS.labels("accepted" if accepted else "duplicate").inc()
        return accepted

    async def store(self, batch: list[DecodedSnapshot]) -> list[bool]:
        """Stores each of these snapshots of this database once, in one go (see inbox_worker); for
        each, False when it was stored before (a resend changes nothing and says so)."""
        claimed = await self._ingestion.claim(batch)
        fresh = [decoded for decoded, stored in zip(batch, claimed, strict=True) if stored]
        SNAPSHOTS.labels("duplicate").inc(len(batch) - len(fresh))
        if not fresh:
            return claimed
        # The fold lock before the partitions: creating one locks the rollups' parent tables to the
        # end of the transaction, which a fold holding the lock exclusively would then wait for.
        folded_before = await self._daily_folds.hold()
        for day in sorted({daily_bucket(decoded.snapshot.collected_at) for decoded in fresh}):
            await self._ingestion.ensure_partition(day)
        await self._ingestion.store_statements(fresh, folded_before)
        snapshots = [decoded.snapshot for decoded in fresh]
        await self._ingestion.store_plans(snapshots)
        # Only the latest schema is kept (an older one never replaces a newer): of a batch, the
        # latest alone is validated and written, ~0.2 MB of JSON for 120 tables instead of that
        # per snapshot, and only when due (schema_writes).
        latest_schema = max(reversed(fresh), key=lambda decoded: decoded.snapshot.collected_at)
        schema_at = latest_schema.snapshot.collected_at
        if self._schema_writes is None or self._schema_writes.due(
            self._database_id, schema_at, latest_schema.schema_shape()
        ):
            tables, indexes = await anyio.to_thread.run_sync(latest_schema.schema_stats)
            await self._ingestion.store_schema(schema_at, tables, indexes)
        for snapshot in snapshots:
            await self._recommendations.store_agent_findings(
                self._database_id, snapshot.findings, measured_at=snapshot.collected_at
            )
        latest = fresh[-1].snapshot
        await self._analysis_watches.snapshot_stored(self._database_id)  # checked for changes by analysis
        await self._databases.record_agent_contact(
            self._database_id,
            agent_version=latest.agent_version,
            server_version=latest.server.version,
            privacy_mode=latest.privacy or PRIVACY_OFF,
        )
        SNAPSHOTS.labels("stored").inc(len(fresh))
        return claimed
