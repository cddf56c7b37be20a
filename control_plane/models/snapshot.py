from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, Float, Index, Integer, Text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from control_plane.models.base import Base, monitored_database_fk, utc_now_column


class Snapshot(Base):
    """One received snapshot; its primary key makes ingestion idempotent on `snapshot_id`."""

    __tablename__ = "snapshots"
    __table_args__ = (
        monitored_database_fk(),
        Index("ix_snapshots_tenant_id_database_id_collected_at", "tenant_id", "database_id", "collected_at"),
        # The live stream's "stored since" poll (control_plane.live).
        Index("ix_snapshots_tenant_id_database_id_received_at", "tenant_id", "database_id", "received_at"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    database_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    snapshot_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    schema_version: Mapped[int] = mapped_column(Integer, nullable=False)
    agent_version: Mapped[str] = mapped_column(Text, nullable=False)
    collected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    received_at: Mapped[datetime] = utc_now_column()
    interval_kind: Mapped[str] = mapped_column(Text, nullable=False)
    interval_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    reset_detected: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    statement_count: Mapped[int] = mapped_column(Integer, nullable=False)
    server: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    dropped: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    # The sums over the snapshot's statements: the database's load in the interval (the overview).
    calls: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    total_exec_time_ms: Mapped[float] = mapped_column(Float, nullable=False, server_default="0")
