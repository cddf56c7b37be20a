from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Integer, LargeBinary, Text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from control_plane.models.base import FINGERPRINT, Base, utc_now_column


def _tenant_key() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)


class LLMAnswer(Base):
    """A model's answer for one statement in one context: asked again unchanged, it is not paid twice."""

    __tablename__ = "llm_answers"

    tenant_id: Mapped[uuid.UUID] = _tenant_key()
    fingerprint: Mapped[str] = mapped_column(FINGERPRINT, primary_key=True)
    context_hash: Mapped[str] = mapped_column(Text, primary_key=True)
    provider: Mapped[str] = mapped_column(Text, primary_key=True)
    model: Mapped[str] = mapped_column(Text, primary_key=True)
    answer: Mapped[str] = mapped_column(Text, nullable=False)
    input_tokens: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    output_tokens: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    created_at: Mapped[datetime] = utc_now_column()


class LLMTokenUsage(Base):
    """Tokens a tenant's analyses used in one calendar month (UTC), as the providers counted them."""

    __tablename__ = "llm_token_usage"

    tenant_id: Mapped[uuid.UUID] = _tenant_key()
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    input_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    output_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    updated_at: Mapped[datetime] = utc_now_column()


class TenantLLMSettings(Base):
    """A tenant's own LLM provider. The API key is Fernet-encrypted and never leaves the server."""

    __tablename__ = "tenant_llm_settings"
    __table_args__ = (
        CheckConstraint("provider IN ('none', 'openai', 'gemini', 'anthropic')", name="provider"),
    )

    tenant_id: Mapped[uuid.UUID] = _tenant_key()
    provider: Mapped[str] = mapped_column(Text, nullable=False)
    base_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    model: Mapped[str | None] = mapped_column(Text, nullable=True)
    api_key_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    updated_at: Mapped[datetime] = utc_now_column()
