from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, Float, Index, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from control_plane.models.base import Base, id_column, monitored_database_fk, tenant_id_column, utc_now_column

RECOMMENDATION_STATUSES = (
    "proposed",
    "approved",
    "applying",
    "applied",
    "failed",
    "rejected",
    "rolled_back",
    "superseded",
)


class Recommendation(Base):
    """A proposed change to a monitored database, with the evidence of its tier.

    `stable_key` is the finder's id that stays the same across runs for the same change (the
    agent's recommendation id), so a finding reported again updates its row instead of adding one.
    """

    __tablename__ = "recommendations"
    __table_args__ = (
        monitored_database_fk(),
        CheckConstraint("source IN ('agent', 'rules', 'llm')", name="source"),
        CheckConstraint("kind IN ('create_index', 'drop_index', 'rewrite', 'config')", name="kind"),
        CheckConstraint(
            "tier IN ('verified', 'estimated', 'advisory', 'measured', 'benchmarked', 'demoted')", name="tier"
        ),
        CheckConstraint(
            "status IN ('proposed', 'approved', 'applying', 'applied', 'failed', 'rejected', 'rolled_back', "
            "'superseded')",
            name="status",
        ),
        Index(
            "uq_recommendations_tenant_id_database_id_stable_key",
            "tenant_id",
            "database_id",
            "stable_key",
            unique=True,
        ),
        Index("ix_recommendations_tenant_id_database_id_status", "tenant_id", "database_id", "status"),
        Index("ix_recommendations_fingerprints", "fingerprints", postgresql_using="gin"),
        CheckConstraint(
            "measured_verdict IS NULL OR measured_verdict IN ('improved', 'neutral', 'regressed')",
            name="measured_verdict",
        ),
        # The measured-proof job's scan: applied changes not measured yet.
        Index(
            "ix_recommendations_tenant_id_applied_at_unmeasured",
            "tenant_id",
            "applied_at",
            postgresql_where=text("status = 'applied' AND measured_at IS NULL"),
        ),
        # The live stream's "changed since" poll (control_plane.live); a trigger keeps the column.
        Index(
            "ix_recommendations_tenant_id_database_id_status_changed_at",
            "tenant_id",
            "database_id",
            "status_changed_at",
        ),
    )

    tenant_id: Mapped[uuid.UUID] = tenant_id_column()
    id: Mapped[uuid.UUID] = id_column()
    database_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    source: Mapped[str] = mapped_column(Text, nullable=False)
    stable_key: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    tier: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="proposed")
    sql: Mapped[str] = mapped_column(Text, nullable=False)
    rollback_sql: Mapped[str | None] = mapped_column(Text, nullable=True)
    table_name: Mapped[str | None] = mapped_column(Text, nullable=True)
    columns: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False, server_default="{}")
    improvement_pct: Mapped[float | None] = mapped_column(Float, nullable=True)
    measured_improvement_pct: Mapped[float | None] = mapped_column(Float, nullable=True)
    rationale: Mapped[str] = mapped_column(Text, nullable=False)
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False, server_default="[]")
    fingerprints: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False, server_default="{}")
    created_at: Mapped[datetime] = utc_now_column()
    updated_at: Mapped[datetime] = utc_now_column()
    # The lifecycle (control_plane.changes.lifecycle). `lint` caches squawk's findings on `sql`
    # (None: not linted yet); `rollback_job_id` is set while a rollback job is in flight (the
    # status stays `applied` until it succeeds).
    lint: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB, nullable=True)
    approved_by: Mapped[str | None] = mapped_column(Text, nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    change_job_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    rollback_job_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    applied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    measured_verdict: Mapped[str | None] = mapped_column(Text, nullable=True)
    measured_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    measured_detail: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    # Set with status `superseded`: the applied recommendation that made this one pointless.
    superseded_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    # Set by a trigger on every status change (migration 0008) for the live stream's poll.
    status_changed_at: Mapped[datetime] = utc_now_column()
    # When the evidence (statements served, calls, costs) was measured: the collected_at of the
    # snapshot whose finding last refreshed it, or the time a proof or an analysis produced it.
    evidence_at: Mapped[datetime] = utc_now_column()
    # A benchmark_index job's answer and verdict (control_plane.benchmarks, migration 0013): the
    # real size, build time and latencies on the agent's sandbox; null until one answered.
    benchmark: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
