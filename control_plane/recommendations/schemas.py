from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from control_plane.changes.lifecycle import Action

RecommendationStatus = Literal[
    "proposed", "approved", "applying", "applied", "failed", "rejected", "rolled_back", "superseded"
]


class LintFinding(BaseModel):
    rule: str
    message: str
    help: str | None = None


class RecommendationOut(BaseModel):
    id: uuid.UUID
    database_id: uuid.UUID
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
    # The approve-and-apply lifecycle (control_plane.changes).
    lint: list[LintFinding] | None = Field(
        default=None, description="squawk's findings on `sql` (they inform, never block); null until linted"
    )
    status_reason: str | None = Field(default=None, description="Why it was rejected, or why it failed")
    approved_by: str | None = None
    approved_at: datetime | None = None
    applied_at: datetime | None = None
    measured_verdict: Literal["improved", "neutral", "regressed"] | None = None
    measured_at: datetime | None = None
    measured_detail: dict[str, Any] | None = Field(
        default=None, description="Per statement: calls, mean time and blocks read per call before and after"
    )
    rollback_available: bool = False
    rollback_in_progress: bool = False
    superseded_by: uuid.UUID | None = Field(
        default=None, description="With status superseded: the applied recommendation that made it pointless"
    )
    group: str | None = Field(
        default=None,
        description="Ideas for the same table and leading column share it: alternatives to weigh side by side",
    )
    applicable: bool = Field(
        default=False,
        description="The agent can carry it out (an index change with SQL); else advice for a person",
    )
    allowed_actions: list[Action] = Field(
        default_factory=list,
        description="What the caller may do now: their permissions and the status's possible moves",
    )
