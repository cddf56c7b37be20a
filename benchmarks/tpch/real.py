"""Real run time of the workload under several index configurations, alternated, and who got slower.

Each configuration lives in its own copy of the TPC-H database (CREATE DATABASE ... TEMPLATE, made right
after loading: the same pages, statistics and visibility map), its indexes built there and kept, so
the rounds can alternate between configurations without rebuilding anything. A round runs every
query once in every configuration; the order of the configurations rotates from round to round, so
that a neighbour's load drifting or the page cache settling does not always favour the same one. One
warm-up round comes first and is not counted (the first pass over a copy reads it from disk).

A query's real time in a configuration is the median over the rounds of its single run; the
workload's real time is the sum over the queries of that median times the query's calls (the
`repetitions` of the workload), the same workload the estimated cost weighs.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from benchmarks.tpch.data import log
from benchmarks.tpch.workload import run_workload

# "Slower beyond noise": the median after is more than 10 % above the median before AND more than 50 ms
# above it. Why both: on this shared 2-core machine one TPC-H query at SF 1 ran 3-8 % apart between
# two rounds of the very same configuration (a neighbour's load, the page cache), so 10 % is beyond
# what the same plan does twice; and the short queries (Q11, Q22: 20-60 ms at SF 1) move by 10 %
# with a few milliseconds of scheduling, which no user would notice, hence the 50 ms floor.
SLOWER_PCT = 10.0
SLOWER_SECONDS = 0.05


@dataclass(frozen=True)
class Configuration:
    name: str
    url: str


@dataclass
class RealTimes:
    """Per configuration and query: the seconds of each counted round."""

    rounds: int
    seconds: dict[str, dict[int, list[float]]] = field(default_factory=dict)
    timeouts: dict[str, int] = field(default_factory=dict)

    def median(self, configuration: str) -> dict[int, float]:
        return {nr: statistics.median(values) for nr, values in self.seconds[configuration].items()}

    def workload_seconds(self, configuration: str, weights: Mapping[int, int]) -> float:
        return sum(weights.get(nr, 1) * seconds for nr, seconds in self.median(configuration).items())

    def cut_pct(self, configuration: str, baseline: str, weights: Mapping[int, int]) -> float:
        before = self.workload_seconds(baseline, weights)
        return 100.0 * (1.0 - self.workload_seconds(configuration, weights) / before) if before else 0.0

    def spread_pct(self, configuration: str) -> dict[int, float]:
        """Per query, (slowest - fastest) / median of the counted rounds: the noise actually seen."""
        return {
            nr: 100.0 * (max(values) - min(values)) / statistics.median(values)
            for nr, values in self.seconds[configuration].items()
            if statistics.median(values) > 0
        }


@dataclass(frozen=True)
class Slower:
    query: int
    seconds_before: float
    seconds_after: float

    @property
    def pct(self) -> float:
        return 100.0 * (self.seconds_after / self.seconds_before - 1.0) if self.seconds_before else 0.0


def slower_statements(times: RealTimes, configuration: str, baseline: str) -> list[Slower]:
    """The queries whose median got slower beyond noise (SLOWER_PCT and SLOWER_SECONDS) than the baseline."""
    before, after = times.median(baseline), times.median(configuration)
    return [
        Slower(nr, before[nr], after[nr])
        for nr in sorted(before)
        if nr in after
        and after[nr] > before[nr] * (1 + SLOWER_PCT / 100)
        and after[nr] - before[nr] > SLOWER_SECONDS
    ]


def time_alternating(
    configurations: Sequence[Configuration],
    queries: Mapping[int, str],
    rounds: int,
    timeout_s: float,
) -> RealTimes:
    """One warm-up round, then `rounds` rounds, each running every query once in every configuration,
    the configurations' order rotated by one per round."""
    times = RealTimes(rounds=rounds)
    for c in configurations:
        times.seconds[c.name] = {nr: [] for nr in queries}
        times.timeouts[c.name] = 0
    for number in range(rounds + 1):
        shift = number % len(configurations)
        for configuration in [*configurations[shift:], *configurations[:shift]]:
            label = "warm-up" if number == 0 else f"round {number}/{rounds}"
            log(f"real time, {label}: {configuration.name}")
            run = run_workload(configuration.url, queries, 1, timeout_s)
            if number == 0:
                continue
            times.timeouts[configuration.name] += len(run.timeouts)
            for nr, seconds in run.per_query.items():
                times.seconds[configuration.name][nr].append(seconds)
    return times
