"""The `benchmark` object of a recommendation: what the sandbox measured, and the verdict on it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

# queued: a benchmark_index job waits for (or runs on) the agent; benchmarked: the real gain reached
# OPTISCHEMA_BENCHMARK_MIN_GAIN_PCT; demoted: it did not (the tier says `demoted` too); failed: the
# agent could not measure it (the tier stays what it was).
BenchmarkVerdict = Literal["queued", "benchmarked", "demoted", "failed"]


class BenchmarkedStatement(BaseModel):
    fingerprint: str
    median_ms_before: float
    median_ms_after: float
    p95_ms_before: float
    p95_ms_after: float
    shared_buffers_before: int | None = Field(default=None, description="Median blocks hit + read per run")
    shared_buffers_after: int | None = None
    plan_changed: bool | None = None
    calls_per_day: float | None = Field(
        default=None, description="Calls in the last 24 h of snapshots; null when none were seen"
    )
    time_saved_ms_per_day: float | None = Field(
        default=None, description="calls_per_day * (median_ms_before - median_ms_after)"
    )


class NotTimedStatement(BaseModel):
    fingerprint: str
    reason: str


class BenchmarkOut(BaseModel):
    verdict: BenchmarkVerdict
    reason: str | None = Field(default=None, description="One sentence with the figures behind the verdict")
    job_id: uuid.UUID | None = None
    at: datetime = Field(description="When the job was queued, or when its answer was judged")
    min_gain_pct: float = Field(
        description="The real gain needed to stay benchmarked (OPTISCHEMA_BENCHMARK_MIN_GAIN_PCT)"
    )
    estimated_improvement_pct: float | None = Field(
        default=None, description="HypoPG's cost cut, for comparison"
    )
    gain_pct: float | None = Field(
        default=None, description="Real time cut of the statements served, weighted by their calls per day"
    )
    time_saved_ms_per_day: float | None = Field(
        default=None, description="sum of calls/day * (median before - median after); null without calls"
    )
    index_size_bytes: int | None = Field(default=None, description="The index as really built")
    build_seconds: float | None = None
    statements: list[BenchmarkedStatement] = Field(default_factory=list)
    not_timed: list[NotTimedStatement] = Field(default_factory=list)


class BenchmarkQueued(BaseModel):
    recommendation_id: uuid.UUID
    job_id: uuid.UUID
    benchmark: BenchmarkOut
