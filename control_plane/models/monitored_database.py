from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from control_plane.models.base import Base, id_column, monitored_database_fk, tenant_id_column, utc_now_column


class MonitoredDatabase(Base):
    __tablename__ = "monitored_databases"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        CheckConstraint("privacy_mode IN ('off', 'pseudonyms')", name="privacy_mode"),
    )

    tenant_id: Mapped[uuid.UUID] = tenant_id_column()
    id: Mapped[uuid.UUID] = id_column()
    name: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = utc_now_column()
    agent_last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    agent_version: Mapped[str | None] = mapped_column(Text, nullable=True)
    server_version: Mapped[str | None] = mapped_column(Text, nullable=True)
    # From the agent's heartbeats: snapshots waiting in its spool now, and evicted from it in total.
    agent_spooled_snapshots: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    agent_dropped_snapshots: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    # When apply and rollback jobs may run (control_plane.changes.maintenance_window); None: any time.
    maintenance_window: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    # The agent's heartbeat said it has a sandbox copy: benchmark_index jobs may be queued for it.
    agent_sandbox: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    # 'pseudonyms': the agent's snapshots and heartbeats said every name it sends is a keyed
    # pseudonym (agent.privacy); the key stays with the agent, so nothing here can name the real schema.
    privacy_mode: Mapped[str] = mapped_column(Text, nullable=False, server_default="off")


class AgentToken(Base):
    """One agent token of a database; only its HMAC is stored. Rotation revokes the previous one."""

    __tablename__ = "agent_tokens"
    __table_args__ = (
        monitored_database_fk(),
        Index("ix_agent_tokens_token_hmac", "token_hmac", unique=True),
    )

    tenant_id: Mapped[uuid.UUID] = tenant_id_column()
    id: Mapped[uuid.UUID] = id_column()
    database_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    token_hmac: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[datetime] = utc_now_column()
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
