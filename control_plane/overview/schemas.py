from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from control_plane.recommendations.schemas import RecommendationOut

AgentStatus = Literal["online", "late", "offline", "never"]


class AgentState(BaseModel):
    status: AgentStatus
    last_seen_at: datetime | None
    version: str | None


class Kpis(BaseModel):
    """From the latest snapshot's server section; null when the agent could not measure a figure,
    with the reason in `missing`."""

    tps: float | None = Field(
        description="Transactions (commits + rollbacks) per second over the last interval"
    )
    active_connections: int | None = Field(description="Client backends in state 'active'")
    max_connections: int | None
    cache_hit_ratio: float | None = Field(
        description="Shared-buffer hits / (hits + reads), 0..1, last interval"
    )
    measured_at: datetime | None = Field(description="When the snapshot they come from was collected")
    missing: dict[str, str] = Field(default_factory=dict, description="Why a figure is null")


class LoadPoint(BaseModel):
    at: datetime = Field(description="End of the interval (or start of the hour when bucketed hourly)")
    total_exec_time_ms: float
    calls: int


class Overview(BaseModel):
    agent: AgentState
    kpis: Kpis
    load: list[LoadPoint]
    load_resolution: Literal["interval", "hour"] = Field(
        description="interval: one point per snapshot; hour: hourly sums (ranges over 6 hours)"
    )
    recommendations: list[RecommendationOut] = Field(
        description="Open (proposed) recommendations, the most statement time they would save first"
    )
