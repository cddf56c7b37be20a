"""Recommendations of one tenant. Every statement is tenant-scoped."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, null, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.models import Recommendation
from control_plane.tenancy.context import TenantContext

# Fields a finding reported again may refresh. Status is never among them, and rows past
# `proposed` are not touched at all: what a person approved is what gets applied.
REFRESHED = (
    "kind",
    "tier",
    "sql",
    "rollback_sql",
    "table_name",
    "columns",
    "improvement_pct",
    "rationale",
    "evidence",
    "fingerprints",
    "evidence_at",
)


class RecommendationRepository:
    def __init__(self, session: AsyncSession, context: TenantContext) -> None:
        self._session = session
        self._tenant_id = context.tenant_id

    async def upsert(
        self,
        database_id: uuid.UUID,
        source: str,
        rows: list[dict[str, Any]],
        evidence_at: datetime | None = None,
    ) -> list[Recommendation]:
        """Inserts findings by (database, stable_key), or refreshes a still-`proposed` one from `source`;
        returns the rows inserted or refreshed. squawk's cached findings go when the SQL changes.
        `evidence_at` is when the evidence was measured (None: now); older evidence than the row's
        (a snapshot resent late from an agent's spool) refreshes nothing."""
        if not rows:
            return []
        measured = {} if evidence_at is None else {"evidence_at": evidence_at}
        upsert = insert(Recommendation)
        # Plain comparisons: an IN list's expanding parameters cannot go into an executemany().
        benchmarked = or_(Recommendation.tier == "benchmarked", Recommendation.tier == "demoted") & (
            Recommendation.sql == upsert.excluded.sql
        )
        stored = await self._session.scalars(
            upsert.on_conflict_do_update(
                index_elements=[
                    Recommendation.tenant_id,
                    Recommendation.database_id,
                    Recommendation.stable_key,
                ],
                set_={
                    **{name: upsert.excluded[name] for name in REFRESHED},
                    # A benchmark's verdict (control_plane.benchmarks) outlives a finding reported again
                    # with the same SQL: the real run outranks HypoPG's estimate; new SQL drops it.
                    "tier": case((benchmarked, Recommendation.tier), else_=upsert.excluded.tier),
                    "improvement_pct": case(
                        (benchmarked, Recommendation.improvement_pct), else_=upsert.excluded.improvement_pct
                    ),
                    "benchmark": case(
                        (Recommendation.sql == upsert.excluded.sql, Recommendation.benchmark), else_=null()
                    ),
                    "lint": case(
                        (Recommendation.sql == upsert.excluded.sql, Recommendation.lint), else_=null()
                    ),
                    "updated_at": func.now(),
                },
                where=(Recommendation.status == "proposed")
                & (Recommendation.source == source)
                & (Recommendation.evidence_at <= upsert.excluded.evidence_at),
            )
            .returning(Recommendation)
            .execution_options(populate_existing=True),
            [
                {
                    **row,
                    "tenant_id": self._tenant_id,
                    "id": uuid.uuid4(),
                    "database_id": database_id,
                    "source": source,
                    **measured,
                }
                for row in rows
            ],
        )
        return list(stored)

    async def of_database(self, database_id: uuid.UUID, status: str | None = None) -> list[Recommendation]:
        query = select(Recommendation).where(
            Recommendation.tenant_id == self._tenant_id, Recommendation.database_id == database_id
        )
        if status is not None:
            query = query.where(Recommendation.status == status)
        rows = await self._session.scalars(
            query.order_by(
                Recommendation.improvement_pct.desc().nulls_last(),
                Recommendation.created_at,
                Recommendation.id,
            )
        )
        return list(rows)

    async def for_fingerprint(self, database_id: uuid.UUID, fingerprint: str) -> list[Recommendation]:
        """The recommendations that serve one statement (GIN index on `fingerprints`)."""
        rows = await self._session.scalars(
            select(Recommendation)
            .where(
                Recommendation.tenant_id == self._tenant_id,
                Recommendation.database_id == database_id,
                Recommendation.fingerprints.contains([fingerprint]),
            )
            .order_by(Recommendation.improvement_pct.desc().nulls_last(), Recommendation.id)
        )
        return list(rows)
