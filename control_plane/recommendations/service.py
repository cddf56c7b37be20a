"""Storing the agent's findings as recommendations, and reading recommendations back."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.benchmarks.schemas import BenchmarkOut
from control_plane.changes.lifecycle import allowed_actions, applicable, rollback_available
from control_plane.databases.service import tenant_database
from control_plane.index_health.staleness import stale_drops
from control_plane.models import MonitoredDatabase, Recommendation
from control_plane.notifications.service import notify_recommendation_ready
from control_plane.recommendations.repository import RecommendationRepository
from control_plane.recommendations.risk import risks_of
from control_plane.recommendations.schemas import (
    LintFinding,
    RecommendationDetail,
    RecommendationOut,
    RecommendationRisk,
)
from control_plane.recommendations.timeline import recommendation_timeline
from control_plane.tenancy.context import TenantContext
from shared.wire.advice import AdviceReport
from shared.wire.advice import Recommendation as Finding


def finding_row(finding: Finding) -> dict[str, Any]:
    """A finding (the agent's or a rule's, same wire model) as a recommendations row."""
    return {
        "stable_key": finding.id,
        "kind": finding.kind,
        "tier": finding.tier,
        "sql": finding.sql,
        "rollback_sql": finding.rollback_sql,
        "table_name": finding.table,
        "columns": list(finding.columns),
        "improvement_pct": finding.improvement_pct,
        "rationale": finding.rationale,
        "evidence": [query.model_dump(mode="json") for query in finding.queries],
        "fingerprints": sorted({query.fingerprint for query in finding.queries}),
    }


def recommendation_group(row: Recommendation) -> str | None:
    """Index ideas on the same table with the same leading column are alternatives (a narrow index
    against a covering one): one B-tree serves both, so at most one of them should be built."""
    if row.kind not in ("create_index", "drop_index") or not row.table_name or not row.columns:
        return None
    return f"{row.table_name}({row.columns[0]})"


def recommendation_out(
    row: Recommendation,
    context: TenantContext,
    risk: RecommendationRisk | None = None,
    has_sandbox: bool = False,
    approve_refusal: str | None = None,
) -> RecommendationOut:
    """The API form of a recommendation, with what `context`'s caller may do to it now
    (`has_sandbox`: whether its database's agent can benchmark it)."""
    return RecommendationOut(
        id=row.id,
        database_id=row.database_id,
        kind=row.kind,
        tier=row.tier,
        status=row.status,
        source=row.source,
        sql=row.sql,
        rollback_sql=row.rollback_sql,
        improvement_pct=row.improvement_pct,
        measured_improvement_pct=row.measured_improvement_pct,
        table=row.table_name,
        columns=list(row.columns),
        rationale=row.rationale,
        queries=list(row.evidence),
        created_at=row.created_at,
        updated_at=row.updated_at,
        evidence_at=row.evidence_at,
        risk=risk,
        lint=None if row.lint is None else [LintFinding.model_validate(found) for found in row.lint],
        status_reason=row.status_reason,
        approved_by=row.approved_by,
        approved_at=row.approved_at,
        applied_at=row.applied_at,
        measured_verdict=row.measured_verdict,
        measured_at=row.measured_at,
        measured_detail=row.measured_detail,
        rollback_available=rollback_available(row),
        rollback_in_progress=row.status == "applied" and row.rollback_job_id is not None,
        superseded_by=row.superseded_by,
        group=recommendation_group(row),
        applicable=applicable(row),
        allowed_actions=allowed_actions(row, context, has_sandbox, approve_refusal),
        approve_refusal=approve_refusal,
        benchmark=None if row.benchmark is None else BenchmarkOut.model_validate(row.benchmark),
    )


class RecommendationService:
    def __init__(self, session: AsyncSession, context: TenantContext) -> None:
        self._session = session
        self._context = context
        self._recommendations = RecommendationRepository(session, context)

    async def store_agent_findings(
        self, database_id: uuid.UUID, findings: AdviceReport | None, measured_at: datetime | None = None
    ) -> None:
        """The agent's advisor already verified these with HypoPG: they arrive with their own tier
        (`verified` for an index) and need no LLM. Reported again by a newer snapshot, a still-proposed
        one is refreshed: its evidence, and `evidence_at` to `measured_at` (the snapshot's collected_at)."""
        if findings is None:
            return
        # One row per stable id: the last report of an id wins (ON CONFLICT cannot hit a row twice).
        latest = {finding.id: finding for finding in findings.recommendations}
        stored = await self._recommendations.upsert(
            database_id, "agent", [finding_row(f) for f in latest.values()], evidence_at=measured_at
        )
        # New or refreshed ones: each is announced once to the webhooks whose bar it clears.
        await notify_recommendation_ready(self._session, self._context, stored)

    async def list(self, database_id: uuid.UUID, status: str | None) -> list[RecommendationOut]:
        database = await tenant_database(self._session, self._context, database_id)
        rows = await self._recommendations.of_database(database_id, status)
        risks = await risks_of(self._session, self._context, database_id, rows)
        stale = await stale_drops(self._session, self._context, database_id, rows)
        return [
            recommendation_out(
                row, self._context, risks.get(row.id), database.agent_sandbox, stale.get(row.id)
            )
            for row in rows
        ]


async def recommendation_detail(
    session: AsyncSession, context: TenantContext, row: Recommendation
) -> RecommendationDetail:
    """One recommendation as its own page shows it: with its risk and its timeline."""
    database = await tenant_database(session, context, row.database_id)
    risks = await risks_of(session, context, row.database_id, [row])
    stale = await stale_drops(session, context, row.database_id, [row])
    listed = recommendation_out(row, context, risks.get(row.id), database.agent_sandbox, stale.get(row.id))
    return RecommendationDetail(
        **listed.model_dump(), timeline=await recommendation_timeline(session, context, row)
    )


async def recommendations_for_query(
    session: AsyncSession, context: TenantContext, database: MonitoredDatabase, fingerprint: str
) -> list[dict[str, Any]]:
    """The recommendations serving one statement of the caller's `database` (from tenant_database,
    which the query detail has read already), as the query detail lists them."""
    rows = await RecommendationRepository(session, context).for_fingerprint(database.id, fingerprint)
    stale = await stale_drops(session, context, database.id, rows)
    return [
        recommendation_out(
            row, context, has_sandbox=database.agent_sandbox, approve_refusal=stale.get(row.id)
        ).model_dump(mode="json")
        for row in rows
    ]
