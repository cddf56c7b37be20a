"""Recommendations: what `optischema-agent advise` prints and what the agent ships as findings.

The shape is the contract of `advise --format json` in ../shared/SPEC.md. Every recommendation
carries the evidence of its tier: `verified` (HypoPG cost before/after), `estimated` (planner cost
of a rewrite, never executed), `advisory` (judged by people), `benchmarked` (real timings on a sandbox copy, `benchmark`);
`measured` is added after apply.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.wire.base import Fingerprint, NonNegativeFloat, NonNegativeInt, WireModel

RecommendationKind = Literal["create_index", "drop_index", "rewrite", "config"]
Tier = Literal["verified", "estimated", "advisory", "benchmarked", "measured"]


class QueryEvidence(WireModel):
    fingerprint: Fingerprint
    query: str = Field(description="Anonymized text")
    calls: NonNegativeInt
    cost_before: NonNegativeFloat | None = None
    cost_after: NonNegativeFloat | None = None


class StatementBenchmark(WireModel):
    """One statement timed on the sandbox: latencies only, never the values it was run with."""

    fingerprint: Fingerprint
    median_ms_before: NonNegativeFloat
    median_ms_after: NonNegativeFloat
    p95_ms_before: NonNegativeFloat
    p95_ms_after: NonNegativeFloat
    shared_buffers_before: NonNegativeInt | None = Field(default=None, description="Median blocks hit + read")
    shared_buffers_after: NonNegativeInt | None = None
    plan_changed: bool | None = None


class BenchmarkEvidence(WireModel):
    """The `benchmarked` tier's evidence: the index really built on a sandbox copy, and real timings."""

    index_size_bytes: NonNegativeInt
    build_seconds: NonNegativeFloat
    statements: list[StatementBenchmark] = Field(default_factory=list)


class Recommendation(WireModel):
    id: str = Field(description="Stable across runs for the same change")
    kind: RecommendationKind
    tier: Tier
    sql: str
    rollback_sql: str | None = None
    table: str | None = Field(default=None, description="schema.table")
    columns: list[str] = Field(default_factory=list)
    improvement_pct: float | None = None
    queries: list[QueryEvidence] = Field(default_factory=list)
    rationale: str
    benchmark: BenchmarkEvidence | None = None


class SkippedStatement(WireModel):
    fingerprint: Fingerprint | None = None
    query: str | None = None
    reason: str


class AdviceReport(WireModel):
    server_version: str
    hypopg: bool
    statements_analyzed: NonNegativeInt
    recommendations: list[Recommendation] = Field(default_factory=list)
    skipped: list[SkippedStatement] = Field(default_factory=list)
    bounds_hit: list[str] = Field(default_factory=list, description="Search bounds that cut the search short")
