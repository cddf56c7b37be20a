"""Storing one snapshot: a handful of bulk statements, never one round trip per statement."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.models import DatabaseSchema, Plan, Statement, StatementStat
from control_plane.models import Snapshot as SnapshotRow
from control_plane.tenancy.context import TenantContext
from shared.wire.snapshot import Snapshot, StatementCounters

COUNTER_FIELDS = tuple(StatementCounters.model_fields)


class IngestionRepository:
    def __init__(self, session: AsyncSession, context: TenantContext, database_id: uuid.UUID) -> None:
        self._session = session
        self._tenant_id = context.tenant_id
        self._database_id = database_id

    async def claim(self, snapshot: Snapshot) -> bool:
        """Inserts the snapshot's row; False when this snapshot_id was already stored."""
        stored = await self._session.scalar(
            insert(SnapshotRow)
            .values(
                tenant_id=self._tenant_id,
                database_id=self._database_id,
                snapshot_id=snapshot.snapshot_id,
                schema_version=snapshot.schema_version,
                agent_version=snapshot.agent_version,
                collected_at=snapshot.collected_at,
                interval_kind=snapshot.interval.kind,
                interval_seconds=snapshot.interval.seconds,
                reset_detected=snapshot.interval.reset_detected,
                statement_count=len(snapshot.statements),
                server=snapshot.server.model_dump(mode="json"),
                dropped=snapshot.dropped.model_dump(mode="json"),
            )
            .on_conflict_do_nothing()
            .returning(SnapshotRow.snapshot_id)
        )
        return stored is not None

    async def ensure_partition(self, day: datetime) -> None:
        await self._session.execute(
            text("SELECT optischema_ensure_statement_stats_partitions(:day, 1)"), {"day": day.date()}
        )

    async def store_statements(self, snapshot: Snapshot) -> None:
        if not snapshot.statements:
            return
        base = {"tenant_id": self._tenant_id, "database_id": self._database_id}
        upsert = insert(Statement)
        await self._session.execute(
            upsert.on_conflict_do_update(
                index_elements=[Statement.tenant_id, Statement.database_id, Statement.fingerprint],
                set_={"query": upsert.excluded.query, "last_seen_at": func.now()},
            ),
            [
                {
                    **base,
                    "fingerprint": s.fingerprint,
                    "query": s.query,
                    "statement_type": s.statement_type,
                    "relations": s.relations,
                }
                for s in snapshot.statements
            ],
        )
        await self._session.execute(
            insert(StatementStat),
            [
                {
                    **base,
                    "fingerprint": s.fingerprint,
                    "collected_at": snapshot.collected_at,
                    "snapshot_id": snapshot.snapshot_id,
                    "interval_seconds": snapshot.interval.seconds,
                    **{name: getattr(s, name) for name in COUNTER_FIELDS},
                }
                for s in snapshot.statements
            ],
        )

    async def store_plans(self, snapshot: Snapshot) -> None:
        if not snapshot.plans:
            return
        upsert = insert(Plan)
        await self._session.execute(
            upsert.on_conflict_do_update(
                index_elements=[Plan.tenant_id, Plan.database_id, Plan.fingerprint],
                set_={
                    "collected_at": upsert.excluded.collected_at,
                    "total_cost": upsert.excluded.total_cost,
                    "plan": upsert.excluded.plan,
                },
                where=Plan.collected_at <= upsert.excluded.collected_at,  # a resent old snapshot never wins
            ),
            [
                {
                    "tenant_id": self._tenant_id,
                    "database_id": self._database_id,
                    "fingerprint": p.fingerprint,
                    "collected_at": snapshot.collected_at,
                    "total_cost": p.total_cost,
                    "plan": p.plan,
                }
                for p in snapshot.plans
            ],
        )

    async def store_schema(self, snapshot: Snapshot) -> None:
        upsert = insert(DatabaseSchema).values(
            tenant_id=self._tenant_id,
            database_id=self._database_id,
            collected_at=snapshot.collected_at,
            tables=[t.model_dump(mode="json") for t in snapshot.tables],
            indexes=[i.model_dump(mode="json") for i in snapshot.indexes],
        )
        await self._session.execute(
            upsert.on_conflict_do_update(
                index_elements=[DatabaseSchema.tenant_id, DatabaseSchema.database_id],
                set_={
                    "collected_at": upsert.excluded.collected_at,
                    "tables": upsert.excluded.tables,
                    "indexes": upsert.excluded.indexes,
                },
                where=DatabaseSchema.collected_at <= upsert.excluded.collected_at,
            )
        )
