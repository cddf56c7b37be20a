from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, LargeBinary, Text, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from control_plane.models.base import Base, monitored_database_fk, utc_now_column


class SnapshotInboxEntry(Base):
    """A snapshot body accepted from an agent and not yet stored: the endpoint writes it and answers
    202, a worker claims it (`FOR UPDATE SKIP LOCKED`), stores it and deletes it in one transaction.

    Keyed like `snapshots`, so a resend while the first copy still waits here is a duplicate too.
    """

    __tablename__ = "snapshot_inbox"
    __table_args__ = (
        monitored_database_fk(),
        # A worker's claim: the tenant's entries that are due, oldest first.
        Index("ix_snapshot_inbox_tenant_id_not_before_received_at", "tenant_id", "not_before", "received_at"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    database_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    snapshot_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    body: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)  # as received (gzip or not)
    content_encoding: Mapped[str | None] = mapped_column(Text, nullable=True)
    received_at: Mapped[datetime] = utc_now_column()
    # A body whose storing failed waits before it is claimed again, so it never holds up the rest.
    not_before: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
