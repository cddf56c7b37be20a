from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

RecommendationStatus = Literal[
    "proposed", "approved", "applying", "applied", "failed", "rejected", "rolled_back"
]


class RecommendationOut(BaseModel):
    id: uuid.UUID
    kind: str
    tier: str
    status: RecommendationStatus
    source: str
    sql: str
    rollback_sql: str | None
    improvement_pct: float | None
    measured_improvement_pct: float | None
    table: str | None
    columns: list[str]
    rationale: str
    queries: list[dict[str, Any]] = Field(
        default_factory=list, description="The evidence: statements served, with their costs before and after"
    )
    created_at: datetime
    updated_at: datetime
