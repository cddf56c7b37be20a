from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Float, Text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from control_plane.models.analysis_run import database_fk
from control_plane.models.base import FINGERPRINT, Base, utc_now_column


class AnalysedStatement(Base):
    """The latest analysis of one statement: its plain-English explanation, and the plan cost and
    share of load it was analysed at (what automatic triggers compare the next snapshot with)."""

    __tablename__ = "analysed_statements"
    __table_args__ = (
        database_fk("analysed_statements"),
        CheckConstraint("explanation_source IN ('llm', 'rules')", name="explanation_source"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    database_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(FINGERPRINT, primary_key=True)
    run_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    plan_cost: Mapped[float | None] = mapped_column(Float, nullable=True)
    load_pct: Mapped[float | None] = mapped_column(Float, nullable=True)
    context_hash: Mapped[str] = mapped_column(Text, nullable=False)
    explanation: Mapped[str] = mapped_column(Text, nullable=False)
    explanation_source: Mapped[str] = mapped_column(Text, nullable=False)
    analysed_at: Mapped[datetime] = utc_now_column()
