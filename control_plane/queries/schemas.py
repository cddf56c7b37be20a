from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

OrderBy = Literal["total_time", "mean_time", "calls", "rows", "shared_blks_read", "temp_blks_written"]


class QuerySummary(BaseModel):
    """One statement's sums over the range (CSV and JSON exports carry these fields in this order)."""

    fingerprint: str
    query: str
    calls: int
    total_exec_time_ms: float
    mean_exec_time_ms: float
    load_pct: float = Field(description="Share of the database's statement time in the range, 0..100")
    rows: int = Field(description="Rows returned or affected, all calls together")
    rows_per_call: float = Field(description="rows / calls (0 without calls)")
    cache_hit_pct: float | None = Field(
        description="shared_blks_hit / (shared_blks_hit + shared_blks_read) * 100; null when no blocks"
    )
    shared_blks_read: int = Field(description="Shared blocks read from outside the buffer cache")
    temp_blks_written: int = Field(description="Temporary blocks written: sorts and hashes spilling to disk")


class SeriesPoint(BaseModel):
    at: datetime = Field(
        description="End of the agent's interval (resolution interval) or start of the UTC hour (hour)"
    )
    interval_seconds: float | None = Field(
        description="The interval's length (null for an agent's first snapshot: counters since a reset); "
        "3600 for an hour"
    )
    calls: int
    total_exec_time_ms: float
    mean_exec_time_ms: float
    rows: int
    shared_blks_hit: int
    shared_blks_read: int
    temp_blks_written: int


class QueryDetail(BaseModel):
    fingerprint: str
    query: str
    resolution: Literal["interval", "hour"] = Field(
        description="interval: one point per snapshot (ranges up to 6 hours); hour: hourly sums from the "
        "rollups, an agent's first snapshot taken out"
    )
    series: list[SeriesPoint]
    plan: dict[str, Any] | None
    explanation: str | None = None
    recommendations: list[dict[str, Any]] = []
