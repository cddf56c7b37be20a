from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, Index, Integer, Text, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from control_plane.models.base import Base, id_column, monitored_database_fk, tenant_id_column, utc_now_column

JOB_STATUSES = ("queued", "leased", "succeeded", "failed", "expired")
UNFINISHED = ("queued", "leased")


class AgentJob(Base):
    """One job for one database's agent: a durable queue row that replicas lease with SKIP LOCKED.

    `queued` -> `leased` (attempts + 1, until `lease_expires_at`) -> `succeeded` | `failed`; a lease
    that runs out is leased again until `max_attempts`, then `failed`; a job nobody ran before
    `expires_at` is `expired`. Times are the metadata database's clock, shared by every replica.
    """

    __tablename__ = "agent_jobs"
    __table_args__ = (
        monitored_database_fk(),
        CheckConstraint(
            "kind IN ('simulate_indexes', 'judge_rewrite', 'apply', 'rollback', 'benchmark_index')",
            name="kind",
        ),
        CheckConstraint("status IN ('queued', 'leased', 'succeeded', 'failed', 'expired')", name="status"),
        CheckConstraint("attempts >= 0 AND max_attempts >= 1", name="attempts"),
        Index(
            "ix_agent_jobs_tenant_id_database_id_created_at_unfinished",
            "tenant_id",
            "database_id",
            "created_at",
            postgresql_where=text("status IN ('queued', 'leased')"),
        ),
        # The live stream's "changed since" poll (control_plane.live); a trigger keeps the column.
        Index(
            "ix_agent_jobs_tenant_id_database_id_status_changed_at",
            "tenant_id",
            "database_id",
            "status_changed_at",
        ),
    )

    tenant_id: Mapped[uuid.UUID] = tenant_id_column()
    id: Mapped[uuid.UUID] = id_column()
    database_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="queued")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    max_attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="3")
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    not_before: Mapped[datetime] = utc_now_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The recommendation an apply/rollback job acts on (a later issue); no foreign key yet.
    recommendation_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    created_at: Mapped[datetime] = utc_now_column()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Set by a trigger on every status change (migration 0008) for the live stream's poll.
    status_changed_at: Mapped[datetime] = utc_now_column()
