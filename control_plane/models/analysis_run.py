from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, ForeignKeyConstraint, Index, Integer, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from control_plane.models.base import Base, id_column, tenant_id_column, utc_now_column

RUN_UNFINISHED = ("queued", "running")


def database_fk(table: str) -> ForeignKeyConstraint:
    """monitored_database_fk with a short name: the conventional one is too long for PostgreSQL here."""
    return ForeignKeyConstraint(
        ["tenant_id", "database_id"],
        ["monitored_databases.tenant_id", "monitored_databases.id"],
        name=f"fk_{table}_database",
        ondelete="CASCADE",
    )


class AnalysisRun(Base):
    """One analysis of a database's statements: a durable queue row that replicas lease with SKIP LOCKED.

    `queued` -> `running` (attempts + 1, until `lease_expires_at`) -> `succeeded` | `failed`. A run
    whose lease ran out (its replica died or restarted) is taken again until `max_attempts`.
    `notices` say what a person should know about the run (LLM budget used up, provider down),
    `dropped` lists every suggestion that was not pursued, with the reason.
    """

    __tablename__ = "analysis_runs"
    __table_args__ = (
        database_fk("analysis_runs"),
        CheckConstraint("trigger IN ('manual', 'auto')", name="trigger"),
        CheckConstraint("status IN ('queued', 'running', 'succeeded', 'failed')", name="status"),
        CheckConstraint("attempts >= 0 AND max_attempts >= 1", name="attempts"),
        Index("ix_analysis_runs_tenant_id_database_id_created_at", "tenant_id", "database_id", "created_at"),
        Index(
            "ix_analysis_runs_created_at_unfinished",
            "created_at",
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
        # The live stream's "changed since" poll (control_plane.live); a trigger keeps the column.
        Index(
            "ix_analysis_runs_tenant_id_database_id_status_changed_at",
            "tenant_id",
            "database_id",
            "status_changed_at",
        ),
    )

    tenant_id: Mapped[uuid.UUID] = tenant_id_column()
    id: Mapped[uuid.UUID] = id_column()
    database_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    trigger: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="queued")
    fingerprints: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False, server_default="{}")
    requested_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    max_attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="3")
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    notices: Mapped[list[str]] = mapped_column(JSONB, nullable=False, server_default="[]")
    dropped: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False, server_default="[]")
    summary: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default="{}")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = utc_now_column()
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Set by a trigger on every status change (migration 0008) for the live stream's poll.
    status_changed_at: Mapped[datetime] = utc_now_column()


class AnalysisWatch(Base):
    """A database whose latest snapshot has (or has not yet) been checked for changed statements."""

    __tablename__ = "analysis_watches"
    __table_args__ = (database_fk("analysis_watches"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    database_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    snapshot_at: Mapped[datetime] = utc_now_column()
    checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
