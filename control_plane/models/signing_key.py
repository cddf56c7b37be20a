"""The control plane's job-signing keys: global, not tenant data (no tenant_id, no RLS).

The runtime role may only SELECT; keys are added and rotated through the SECURITY DEFINER functions
of migration 0003, which allow only the transitions rotation needs.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Index, LargeBinary, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from control_plane.models.base import Base, utc_now_column

KEY_STATUSES = ("active", "next", "retired")


class SigningKey(Base):
    __tablename__ = "signing_keys"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'next', 'retired')", name="status"),
        CheckConstraint("octet_length(public_key) = 32", name="public_key"),
        CheckConstraint("(status = 'retired') = (private_key_encrypted IS NULL)", name="private_key"),
        Index("uq_signing_keys_active", "status", unique=True, postgresql_where=text("status = 'active'")),
        Index("uq_signing_keys_next", "status", unique=True, postgresql_where=text("status = 'next'")),
    )

    key_id: Mapped[str] = mapped_column(Text, primary_key=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)  # raw 32 bytes
    # A Fernet token under the key derived from OPTISCHEMA_SECRET_KEY; erased when the key retires.
    private_key_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = utc_now_column()
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
