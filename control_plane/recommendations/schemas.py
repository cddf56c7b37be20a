from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from control_plane.benchmarks.schemas import BenchmarkOut
from control_plane.changes.lifecycle import Action

RecommendationStatus = Literal[
    "proposed", "approved", "applying", "applied", "failed", "rejected", "rolled_back", "superseded"
]


class LintFinding(BaseModel):
    rule: str
    message: str
    help: str | None = None


class RecommendationRisk(BaseModel):
    """What carrying out an index change costs the database: the lock it takes, how big the index
    is and how long building it takes, and how busy the table's writers are (each index makes every
    insert, and every update of an indexed column, and every delete, do a little more)."""

    lock: str = Field(description="The lock taken and what it lets through while the change runs")
    estimated_size_bytes: int | None = Field(
        default=None,
        description="create_index: the B-tree estimated from the table statistics (no deduplication: an "
        "upper bound); drop_index: the index's size in the latest snapshot; null when unknown",
    )
    size_basis: str | None = Field(
        default=None, description="Where estimated_size_bytes comes from, in words"
    )
    estimated_build_seconds: float | None = Field(
        default=None,
        description="create_index: building it; drop_index: building it again on rollback. From the size at a "
        "measured build rate (control_plane.recommendations.risk.BUILD_BYTES_PER_SECOND); null when unknown",
    )
    table_writes_per_second: float | None = Field(
        default=None,
        description="Rows inserted, updated and deleted per second on the table over the latest snapshots; "
        "null when no snapshot measured an interval",
    )
    writes_window_seconds: float | None = Field(
        default=None, description="The seconds of snapshots table_writes_per_second is measured over"
    )


class TimelineDetail(BaseModel):
    """The particulars of one move that a card shows; absent ones are null."""

    reason: str | None = Field(default=None, description="Why it was rejected, or why the job failed")
    job_id: uuid.UUID | None = None
    not_before: datetime | None = None
    attempt: int | None = None
    index_name: str | None = None
    index_size_bytes: int | None = Field(default=None, description="The index as the agent built it")
    duration_s: float | None = Field(default=None, description="How long the agent's change took")
    measured_improvement_pct: float | None = None
    measured_verdict: Literal["improved", "neutral", "regressed"] | None = None
    related_recommendation_id: uuid.UUID | None = Field(
        default=None,
        description="superseded: the applied one that made it pointless; reopened: the rolled back one",
    )


class TimelineEntry(BaseModel):
    at: datetime
    action: str = Field(
        description="proposed, approve, reject, applying, apply, apply_failed, rollback, rollback_failed, "
        "rolled_back, superseded, reopened, measured (the audit action without `recommendation.`)"
    )
    status: RecommendationStatus | None = Field(default=None, description="The status after the move")
    actor: Literal["user", "agent", "system"]
    actor_email: str | None = Field(
        default=None, description="The person who acted; null for the agent, the system"
    )
    detail: TimelineDetail


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
    evidence_at: datetime = Field(
        description="When the evidence in `queries` (calls, costs) was measured: the snapshot or proof it came from"
    )
    risk: RecommendationRisk | None = Field(
        default=None,
        description="Index kinds, on the database's list and the detail; null for advisory kinds (and where "
        "a recommendation is embedded elsewhere)",
    )
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
    approve_refusal: str | None = Field(
        default=None,
        description="Why it cannot be approved now (a drop the latest snapshot no longer bears out): "
        "`approve` is then left out of allowed_actions, and the API would answer 409 with this",
    )
    benchmark: BenchmarkOut | None = Field(
        default=None,
        description="create_index: the agent's sandbox run (issue 16) and its verdict; null when never asked",
    )


class RecommendationDetail(RecommendationOut):
    """`GET /recommendations/{id}`: the recommendation with every move it went through."""

    timeline: list[TimelineEntry] = Field(
        default_factory=list,
        description="Oldest first: proposed, then each status change from the audit trail",
    )
