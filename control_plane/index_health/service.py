"""Index health from the latest snapshot, classified by the agent's own rule (shared.index_findings).

Duplicate, prefix-redundant and invalid indexes need only the schema, so the control plane finds
them itself and stores each as a `drop_index` recommendation (source `rules`) under the finding's
stable id, which is the id the agent's advisor gives the same finding: one recommendation either
way. Unused indexes need the age of the index statistics (pg_stat_database.stats_reset, at least 7
days), which the snapshot does not carry: those come from the agent's advisor, which reads it, as
its `drop_index` findings for indexes with no scans; they are listed while the snapshot bears them out.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.databases.service import tenant_database
from control_plane.index_health.repository import IndexHealthRepository
from control_plane.index_health.schemas import IndexHealthRow
from control_plane.index_health.staleness import agents_kind, drop_refusal_in
from control_plane.models import Recommendation
from control_plane.recommendations.repository import RecommendationRepository
from control_plane.recommendations.risk import WRITES_WINDOW, relation_names
from control_plane.recommendations.risk_repository import RiskReadings
from control_plane.recommendations.service import finding_row
from control_plane.tenancy.context import TenantContext
from shared.index_findings import IndexKind, classified_index_findings, finding_id
from shared.wire.snapshot import IndexStats


class IndexHealthService:
    def __init__(self, session: AsyncSession, context: TenantContext) -> None:
        self._session = session
        self._context = context

    async def rows(self, database_id: uuid.UUID) -> list[IndexHealthRow]:
        await tenant_database(self._session, self._context, database_id)
        reads = IndexHealthRepository(self._session, self._context, database_id)
        indexes = await reads.latest_indexes()
        classified = classified_index_findings(indexes, stats_age=None)
        keys = [finding_id(index) for index in indexes]
        drops = await reads.drops(keys)
        # Only findings without a row yet are written, so reading the page rewrites nothing; an
        # existing row (the agent's, or one a person already moved) is left as it is.
        new = [found.recommendation for found in classified if found.recommendation.id not in drops]
        if new:
            await RecommendationRepository(self._session, self._context).upsert(
                database_id, "rules", [finding_row(finding) for finding in new]
            )
            drops = await reads.drops(keys)
        kinds: dict[str, tuple[IndexKind, str]] = {
            found.recommendation.id: (found.kind, found.recommendation.rationale) for found in classified
        }
        rows = []
        for index in indexes:
            key = finding_id(index)
            drop = drops.get(key)
            if key in kinds:
                kind, reason = kinds[key]
            elif drop is not None and (agents := agents_kind(index, drop)) is not None:
                kind, reason = agents, drop.rationale
            else:
                continue
            rows.append(_row(index, kind, reason, drop))
        rows = await self._with_write_rates(database_id, rows)
        return sorted(rows, key=lambda row: (-row.size_bytes, row.index))

    async def drop_refusal(self, drop: Recommendation) -> str | None:
        """Why the latest snapshot no longer bears out a drop_index recommendation, None while it
        does: approving must not drop an index that has been scanned since it was found unused, or
        whose twin is gone (the index would then be the only one of its kind)."""
        indexes = await IndexHealthRepository(self._session, self._context, drop.database_id).latest_indexes()
        return drop_refusal_in(indexes, drop)

    async def _with_write_rates(
        self, database_id: uuid.UUID, rows: list[IndexHealthRow]
    ) -> list[IndexHealthRow]:
        """Each row's table writes per second, measured as a drop recommendation's risk is (one
        read for all tables): what keeping the index costs on every insert, update and delete."""
        relations = {name for row in rows for name in relation_names(row.table)}
        writes = await RiskReadings(self._session, self._context, database_id).writes(
            relations, WRITES_WINDOW
        )
        if writes is None:
            return rows
        return [
            row.model_copy(
                update={
                    "table_writes_per_second": round(
                        sum(writes.rows_by_relation.get(name, 0) for name in relation_names(row.table))
                        / writes.seconds,
                        3,
                    )
                }
            )
            for row in rows
        ]


def _row(index: IndexStats, kind: IndexKind, reason: str, drop: Recommendation | None) -> IndexHealthRow:
    return IndexHealthRow(
        index=f"{index.schema_name}.{index.name}",
        table=f"{index.schema_name}.{index.table}",
        kind=kind,
        size_bytes=index.size_bytes,
        scans=index.idx_scan,
        reason=reason,
        recommendation_id=drop.id if drop is not None else None,
        recommendation_status=drop.status if drop is not None else None,
    )
