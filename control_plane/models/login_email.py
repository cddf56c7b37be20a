"""Sign-in happens before a tenant is known: this small reference table maps an email to its user.

The runtime role has no grant on it at all; only the SECURITY DEFINER lookup function reads it.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from control_plane.models.base import Base


class LoginEmail(Base):
    __tablename__ = "login_emails"

    email: Mapped[str] = mapped_column(Text, primary_key=True)  # lower-cased
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
