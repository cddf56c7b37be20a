"""What one benchmark measured: per statement latencies before and after, and the index's real cost.

Only timings, buffer counts, sizes and fingerprints live here: never a value bound to a statement,
and never a plan (plans quote the values in their conditions), so all of it may be printed and sent.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: with 7 runs the p95 is the slowest, as it should be for so few."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))  # ceil(n * fraction), at least the first
    return ordered[int(rank) - 1]


@dataclass
class StatementTiming:
    fingerprint: str
    calls: int
    before_ms: list[float] = field(default_factory=list)
    after_ms: list[float] = field(default_factory=list)
    buffers_before: list[int] = field(default_factory=list)  # shared blocks hit + read, per run
    buffers_after: list[int] = field(default_factory=list)
    plans_before: set[str] = field(default_factory=set)  # plan shapes: node types and index names
    plans_after: set[str] = field(default_factory=set)

    @property
    def median_ms_before(self) -> float:
        return statistics.median(self.before_ms)

    @property
    def median_ms_after(self) -> float:
        return statistics.median(self.after_ms)

    @property
    def p95_ms_before(self) -> float:
        return percentile(self.before_ms, 0.95)

    @property
    def p95_ms_after(self) -> float:
        return percentile(self.after_ms, 0.95)

    index_name: str = ""  # the benchmark's own name for the index, as the plans show it
    # False: a statement the index was not recommended for, timed because the index changed its plan.
    served: bool = True
    timed_out_with_index: bool = False  # a run with the index exceeded the statement budget

    @property
    def paired_ratio(self) -> float:
        """Median over the runs of after / before; the lists are appended pair by pair."""
        ratios = [a / b for a, b in zip(self.after_ms, self.before_ms, strict=False) if b > 0]
        return statistics.median(ratios) if ratios else 1.0

    @property
    def plan_changed(self) -> bool:
        return self.plans_after != self.plans_before

    @property
    def index_used(self) -> bool:
        return any(f"({self.index_name})" in shape for shape in self.plans_after)

    @property
    def credited_ms_after(self) -> float:
        """The median after, when a plan used the index; else the median before. Two runs of the
        same plan still differ (on a shared 2-core machine, 28 vs 25 ms for the same sequential
        scan): an index that no plan touched cannot have made that difference."""
        return self.median_ms_after if self.index_used else self.median_ms_before


def is_slowed(timing: StatementTiming, max_pct: float, floor_ms: float) -> bool:
    """More than `max_pct` per cent slower on the paired runs and more than `floor_ms` on the medians."""
    return (
        timing.paired_ratio > 1 + max_pct / 100
        and timing.median_ms_after - timing.median_ms_before > floor_ms
    )


@dataclass
class CandidateBenchmark:
    index_key: str
    index_size_bytes: int = 0
    build_seconds: float = 0.0
    timings: list[StatementTiming] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # fingerprint -> why it was not timed
    failure: str | None = None  # why nothing could be measured (the build failed, the budget ran out)
    # Statements of the workload on the same table that could not be checked for a changed plan.
    unchecked: dict[str, str] = field(default_factory=dict)
    # Statements that ran within the statement budget without the index and exceeded it with it.
    over_budget_with_index: list[str] = field(default_factory=list)

    @property
    def measured(self) -> bool:
        return self.failure is None and bool(self.timings)

    @property
    def gain_pct(self) -> float:
        """How much less time the timed statements take with the index, weighted by their calls."""
        before = sum(t.calls * t.median_ms_before for t in self.timings)
        after = sum(t.calls * t.credited_ms_after for t in self.timings)
        return 100.0 * (before - after) / before if before > 0 else 0.0

    def slowed(self, max_pct: float, floor_ms: float) -> list[StatementTiming]:
        """Timed statements whose plan used the index and got more than `max_pct` per cent slower (the
        median of each run's after/before ratio: the two runs of a pair bind the same values, one
        right after the other) and more than `floor_ms` (medians): an index may not buy one
        statement's gain with another's time (TPC-H at SF 1: Q7, 9, 13 and 21 ran 40-140 % slower
        with indexes meant for others)."""
        return [t for t in self.timings if t.index_used and is_slowed(t, max_pct, floor_ms)]

    def summary(self) -> str:
        """The measured figures in one sentence, for reasons and rationales."""
        statements = "; ".join(
            f"{t.fingerprint}: median {t.median_ms_before:.3f} ms -> {t.median_ms_after:.3f} ms"
            + ("" if t.index_used else ", no plan used the index")
            + ("" if t.served else ", not served but its plan changed")
            for t in self.timings
        )
        return (
            f"real gain {self.gain_pct:.1f}% on the sandbox ({statements}); index "
            f"{_size_text(self.index_size_bytes)}, built in {self.build_seconds:.3f} s"
        )


def _size_text(size_bytes: int) -> str:
    """MB like the advisor's estimate beside it; kB below a tenth of one (`0.0 MB` says nothing)."""
    return f"{size_bytes / 1_048_576:.1f} MB" if size_bytes >= 104_858 else f"{size_bytes / 1024:.0f} kB"
