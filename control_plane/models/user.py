from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKeyConstraint, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from control_plane.models.base import Base, id_column, tenant_id_column, utc_now_column

ROLES = ("admin", "analyst", "viewer")


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        CheckConstraint("role IN ('admin', 'analyst', 'viewer')", name="role"),
    )

    tenant_id: Mapped[uuid.UUID] = tenant_id_column()
    id: Mapped[uuid.UUID] = id_column()
    email: Mapped[str] = mapped_column(Text, nullable=False)
    password_hash: Mapped[str] = mapped_column(Text, nullable=False)
    role: Mapped[str] = mapped_column(Text, nullable=False)
    # Every access token carries the generation it was issued in; sign-out everywhere, a password
    # change or disabling bumps it, and older tokens die on their next request. A counter, not a
    # timestamp: whole-second `iat` cannot order a sign-in and a sign-out in the same second.
    token_generation: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = utc_now_column()


__all__ = ["ROLES", "User"]
