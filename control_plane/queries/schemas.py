from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

OrderBy = Literal["total_time", "mean_time", "calls"]


class QuerySummary(BaseModel):
    fingerprint: str
    query: str
    calls: int
    total_exec_time_ms: float
    mean_exec_time_ms: float
    load_pct: float


class SeriesPoint(BaseModel):
    at: datetime
    interval_seconds: float | None
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
    series: list[SeriesPoint]
    plan: dict[str, Any] | None
    explanation: str | None = None
    recommendations: list[dict[str, Any]] = []
