from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Float, ForeignKeyConstraint, Index, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from control_plane.models.analysis_run import database_fk
from control_plane.models.base import FINGERPRINT, Base, id_column, tenant_id_column, utc_now_column


class AnalysisSuggestion(Base):
    """An index or rewrite idea (from rules or an LLM) waiting for, or settled by, the agent's simulation.

    Nobody sees it as an improvement until the simulation proves it: `verified` (HypoPG cost cut) or
    `estimated` (a cheaper rewrite plan) then becomes a recommendation; `dismissed` stays here only,
    as the evidence that the idea was tried and did not lower the cost.
    """

    __tablename__ = "analysis_suggestions"
    __table_args__ = (
        database_fk("analysis_suggestions"),
        ForeignKeyConstraint(
            ["tenant_id", "run_id"], ["analysis_runs.tenant_id", "analysis_runs.id"], ondelete="CASCADE"
        ),
        CheckConstraint("source IN ('rules', 'llm')", name="source"),
        CheckConstraint("kind IN ('create_index', 'rewrite')", name="kind"),
        CheckConstraint(
            "status IN ('pending', 'verified', 'estimated', 'dismissed', 'failed')", name="status"
        ),
        Index(
            "ix_analysis_suggestions_tenant_id_job_id",
            "tenant_id",
            "job_id",
            postgresql_where=text("job_id IS NOT NULL"),
        ),
        Index("ix_analysis_suggestions_tenant_id_run_id", "tenant_id", "run_id"),
    )

    tenant_id: Mapped[uuid.UUID] = tenant_id_column()
    id: Mapped[uuid.UUID] = id_column()
    database_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    run_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    fingerprint: Mapped[str] = mapped_column(FINGERPRINT, nullable=False)
    source: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    table_name: Mapped[str | None] = mapped_column(Text, nullable=True)
    columns: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False, server_default="{}")
    sql: Mapped[str] = mapped_column(Text, nullable=False)
    rollback_sql: Mapped[str | None] = mapped_column(Text, nullable=True)
    rationale: Mapped[str] = mapped_column(Text, nullable=False)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    risk: Mapped[str | None] = mapped_column(Text, nullable=True)
    min_improvement_pct: Mapped[float] = mapped_column(Float, nullable=False)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default="{}")
    job_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="pending")
    cost_before: Mapped[float | None] = mapped_column(Float, nullable=True)
    cost_after: Mapped[float | None] = mapped_column(Float, nullable=True)
    improvement_pct: Mapped[float | None] = mapped_column(Float, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    recommendation_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    created_at: Mapped[datetime] = utc_now_column()
    updated_at: Mapped[datetime] = utc_now_column()
