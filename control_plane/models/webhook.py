from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from control_plane.models.base import Base, id_column, tenant_id_column, utc_now_column

WEBHOOK_KINDS = ("generic", "slack")
DELIVERY_STATUSES = ("pending", "delivered", "failed")


class Webhook(Base):
    """A tenant's notification target. The signing secret is stored Fernet-encrypted, shown once."""

    __tablename__ = "webhooks"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        CheckConstraint("kind IN ('generic', 'slack')", name="kind"),
    )

    tenant_id: Mapped[uuid.UUID] = tenant_id_column()
    id: Mapped[uuid.UUID] = id_column()
    url: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    events: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    # A new recommendation is announced only when it promises at least this much.
    min_improvement_pct: Mapped[float] = mapped_column(Float, nullable=False)
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_by: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = utc_now_column()


class WebhookDelivery(Base):
    """One notification for one webhook: an outbox row written with the event, sent with retries.

    `pending` (attempts so far, next try at `next_attempt_at`) -> `delivered` | `failed` (gave up).
    `dedupe_key` names the event, so the same event is queued once per webhook.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "webhook_id"], ["webhooks.tenant_id", "webhooks.id"], ondelete="CASCADE"
        ),
        CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status"),
        Index(
            "uq_webhook_deliveries_tenant_id_webhook_id_dedupe_key",
            "tenant_id",
            "webhook_id",
            "dedupe_key",
            unique=True,
        ),
        Index(
            "ix_webhook_deliveries_tenant_id_next_attempt_at_pending",
            "tenant_id",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
    )

    tenant_id: Mapped[uuid.UUID] = tenant_id_column()
    id: Mapped[uuid.UUID] = id_column()
    webhook_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    event: Mapped[str] = mapped_column(Text, nullable=False)
    dedupe_key: Mapped[str] = mapped_column(Text, nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    next_attempt_at: Mapped[datetime] = utc_now_column()
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = utc_now_column()
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
