from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr

from shared.wire.base import BIGINT_MAX

ProviderSetting = Literal["none", "openai", "gemini", "anthropic"]
Fingerprint = str


class AnalyzeRequest(BaseModel):
    fingerprints: list[Fingerprint] = Field(
        default_factory=list,
        max_length=100,
        description="Statements to analyse; empty: the busiest ones of the analysis window",
    )


class AnalysisAccepted(BaseModel):
    run_id: uuid.UUID
    status: str


class SuggestionOut(BaseModel):
    id: uuid.UUID
    fingerprint: str
    source: str
    kind: str
    status: str = Field(description="pending (waiting for the agent), verified, estimated, dismissed, failed")
    table: str | None
    columns: list[str]
    sql: str
    cost_before: float | None
    cost_after: float | None
    improvement_pct: float | None
    reason: str | None
    job_id: uuid.UUID | None
    recommendation_id: uuid.UUID | None


class AnalysisRunOut(BaseModel):
    id: uuid.UUID
    database_id: uuid.UUID
    trigger: str
    status: str
    fingerprints: list[str]
    attempts: int
    notices: list[str]
    dropped: list[dict[str, Any]] = Field(description="Suggestions not pursued, each with its reason")
    summary: dict[str, Any]
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    suggestions: list[SuggestionOut] = Field(default_factory=list)


class LLMSettingsIn(BaseModel):
    provider: ProviderSetting | Literal["default"] = Field(
        description="'default': the operator's provider (OPTISCHEMA_LLM_*); 'none': rules only"
    )
    base_url: str | None = Field(default=None, max_length=2000)
    model: str | None = Field(default=None, max_length=200)
    api_key: SecretStr | None = Field(
        default=None, description="Omitted: the stored key is kept. Empty: the stored key is removed."
    )
    monthly_token_budget: int | None = Field(
        default=None,
        ge=0,
        le=BIGINT_MAX,
        description="Tokens per calendar month; null: the operator's default",
    )


class LLMSettingsOut(BaseModel):
    provider: ProviderSetting
    base_url: str | None
    model: str | None
    api_key_set: bool
    monthly_token_budget: int | None
    effective_monthly_token_budget: int
    tokens_used_this_month: int
    source: Literal["tenant", "operator"] = Field(description="Whose provider analyses use")


__all__ = [
    "AnalysisAccepted",
    "AnalysisRunOut",
    "AnalyzeRequest",
    "LLMSettingsIn",
    "LLMSettingsOut",
    "SuggestionOut",
]
