"""Judging a benchmark's answer: kept as `benchmarked`, or `demoted` with the figures that say why.

The gain is the real time the statements served would save, weighted by how often they run: a
statement called 50,000 times a day that goes from 1.8 ms to 0.2 ms matters, a monthly report that
goes from 900 ms to 30 ms barely does. Without any calls seen (a new database), each counts once.
A statement whose plan is the same with and without the index is credited no gain.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

from control_plane.benchmarks.schemas import BenchmarkedStatement, BenchmarkOut, NotTimedStatement
from shared.wire.jobs import BenchmarkIndexResult


def _ms(value: float) -> str:
    return f"{value:.3g} ms" if value < 100 else f"{value:,.0f} ms"


def judge_benchmark(
    result: BenchmarkIndexResult,
    calls_per_day: Mapping[str, float],
    *,
    estimated_improvement_pct: float | None,
    min_gain_pct: float,
    job_id: uuid.UUID,
    at: datetime,
) -> BenchmarkOut:
    statements = []
    before_total = after_total = 0.0
    saved_total: float | None = None
    for timed in result.benchmark.statements:
        calls = calls_per_day.get(timed.fingerprint)
        weight = calls if calls else 1.0
        # A plan that did not change cannot owe its time to the index: two series of the very same
        # plan differ by 10 % on a busy 2-core host (28 vs 25 ms), which is no gain to credit.
        after = timed.median_ms_after if timed.plan_changed is not False else timed.median_ms_before
        before_total += weight * timed.median_ms_before
        after_total += weight * after
        saved = None if not calls else round(calls * (timed.median_ms_before - after), 3)
        if saved is not None:
            saved_total = (saved_total or 0.0) + saved
        statements.append(
            BenchmarkedStatement(
                **timed.model_dump(), calls_per_day=calls or None, time_saved_ms_per_day=saved
            )
        )
    gain = round(100.0 * (before_total - after_total) / before_total, 1) if before_total > 0 else 0.0
    medians = "; ".join(
        f"median {_ms(s.median_ms_before)} -> {_ms(s.median_ms_after)}"
        + ("" if s.plan_changed is not False else ", the same plan")
        for s in statements
    )
    estimate = (
        f"HypoPG estimated -{estimated_improvement_pct:g} % cost"
        if estimated_improvement_pct is not None
        else "HypoPG estimated a cut"
    )
    kept = gain >= min_gain_pct
    if kept:
        reason = f"the real run: {medians} ({gain:.1f} % time saved), at least the {min_gain_pct:g} % needed"
    else:
        reason = (
            f"{estimate}; the real run: {medians} ({gain:.1f} % time saved), below the "
            f"{min_gain_pct:g} % needed"
        )
    return BenchmarkOut(
        verdict="benchmarked" if kept else "demoted",
        reason=reason,
        job_id=job_id,
        at=at,
        min_gain_pct=min_gain_pct,
        estimated_improvement_pct=estimated_improvement_pct,
        gain_pct=gain,
        time_saved_ms_per_day=None if saved_total is None else round(saved_total, 3),
        index_size_bytes=result.benchmark.index_size_bytes,
        build_seconds=result.benchmark.build_seconds,
        statements=statements,
        not_timed=[NotTimedStatement(fingerprint=n.fingerprint, reason=n.reason) for n in result.not_timed],
    )
