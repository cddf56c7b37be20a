from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from control_plane.models.base import Base, monitored_database_fk


class DatabaseSchema(Base):
    """The latest schema context (tables, columns, indexes) a snapshot reported for a database."""

    __tablename__ = "database_schemas"
    __table_args__ = (monitored_database_fk(),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    database_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    collected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    tables: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False)
    indexes: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False)
