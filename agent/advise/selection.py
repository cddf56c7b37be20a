"""Choosing indexes for the whole workload with HypoPG: lazy greedy over what-if costs.

The measure is the weighted relative cost of the workload: each statement counts by its share of
total time, times its generic-plan cost with the indexes in place over its cost without. An index
is added only when it removes a meaningful share of that; a wider index replaces the narrower one
it covers only when the swap itself pays; two recommended indexes are never prefixes of each other.
Gains are re-evaluated lazily (an index's gain rarely grows as others are added), which keeps the
number of EXPLAINs near linear in the number of candidates.

Greedy judges an index against the set as it was when the index was added. Once the set is
complete, every index is judged again against all the others: a wide index that was taken before its
narrower candidate prefix was ever considered must beat that prefix by a meaningful share, or the
prefix (smaller, cheaper to maintain) takes its place; an index that the later ones made nearly
useless is dropped.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from agent.advise.candidate_index import CandidateIndex
from agent.advise.hypothetical import HypotheticalIndex, HypotheticalIndexes
from agent.advise.plan_costs import plan_cost
from agent.advise.workload import AdvisedStatement, write_share
from agent.db.session import AgentSession
from shared.wire.snapshot import TableStats


@dataclass(frozen=True)
class Evaluated:
    cost: float | None
    indexes_used: frozenset[str]  # candidate keys, stable across re-creation
    error: str | None = None


@dataclass(frozen=True)
class SearchBounds:
    max_candidates: int = 300
    max_indexes: int = 12
    time_budget_s: float = 60.0
    batch_size: int = 40  # HypoPG's fake OIDs run out past a few hundred live indexes
    min_workload_share: float = 0.01  # an index must remove at least this share of the weighted cost
    write_penalty: float = 2.0  # on a write-only table the bar is (1 + write_penalty) times higher


@dataclass
class Selection:
    chosen: list[CandidateIndex] = field(default_factory=list)
    final_costs: dict[str, Evaluated] = field(default_factory=dict)
    served_by: dict[CandidateIndex, list[str]] = field(default_factory=dict)
    estimated_sizes: dict[CandidateIndex, int] = field(default_factory=dict)
    rejected: dict[CandidateIndex, str] = field(default_factory=dict)
    write_shares: dict[CandidateIndex, float] = field(default_factory=dict)
    bounds_hit: list[str] = field(default_factory=list)


class WhatIfSearch:
    def __init__(
        self,
        session: AgentSession,
        hypothetical: HypotheticalIndexes,
        *,
        server_version_num: int,
        statements: list[AdvisedStatement],
        tables: list[TableStats],
        bounds: SearchBounds,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session = session
        self._hypothetical = hypothetical
        self._version = server_version_num
        self._statements = {s.fingerprint: s for s in statements if s.base_cost > 0}
        total = sum(s.weight for s in self._statements.values()) or 1.0
        self._share = {fp: s.weight / total for fp, s in self._statements.items()}
        self._tables = {(t.schema_name, t.name): t for t in tables}
        self._bounds = bounds
        self._clock = clock
        self._deadline = clock() + bounds.time_budget_s
        self._cache: dict[tuple[str, frozenset[str]], Evaluated] = {}
        self._result = Selection()

    # -- costs -------------------------------------------------------------------------------
    def _affected(self, candidates: Iterable[CandidateIndex]) -> list[AdvisedStatement]:
        tables = [
            self._tables[(c.schema_name, c.table)]
            for c in candidates
            if (c.schema_name, c.table) in self._tables
        ]
        return [s for s in self._statements.values() if any(s.touches(t) for t in tables)]

    def _cost_with(self, statement: AdvisedStatement, active: list[CandidateIndex]) -> Evaluated:
        """Cost of the statement with exactly `active` in place; callers make that the live set."""
        relevant = frozenset(c.key() for c in active if self._touches(statement, c))
        cache_key = (statement.fingerprint, relevant)
        if cache_key not in self._cache:
            planned = plan_cost(self._session, statement.raw_text, self._version, statement.representative)
            # HypoPG's names carry OIDs that change when an index is re-created: keep keys instead.
            used = frozenset(
                index.candidate.key()
                for name in planned.indexes_used
                if (index := self._hypothetical.by_name(name))
            )
            self._cache[cache_key] = Evaluated(planned.cost, used, planned.error)
        return self._cache[cache_key]

    def _touches(self, statement: AdvisedStatement, candidate: CandidateIndex) -> bool:
        table = self._tables.get((candidate.schema_name, candidate.table))
        return table is not None and statement.touches(table)

    def _relative(self, statement: AdvisedStatement, evaluated: Evaluated) -> float:
        cost = evaluated.cost if evaluated.cost is not None else statement.base_cost
        return min(cost / statement.base_cost, 1.0) if statement.base_cost else 1.0

    def _gain(
        self, chosen: list[CandidateIndex], candidate: CandidateIndex, replaced: list[CandidateIndex]
    ) -> float:
        """Weighted cost removed by adding `candidate` (and dropping `replaced`) to the live `chosen`.

        `replaced` is a list in `chosen`'s order, never a set: its indexes are re-created in that
        order, and when two hypothetical indexes cost a plan the same the planner keeps the one it
        met first. A set's order follows the string hashes, which differ from process to process: two
        `advise` runs on the same database could then break such a tie differently."""
        trial = [*(c for c in chosen if c not in replaced), candidate]
        affected = self._affected([candidate, *replaced])
        before = {s.fingerprint: self._relative(s, self._cost_with(s, chosen)) for s in affected}
        for old in replaced:
            self._drop(old)
        made = self._create(candidate)
        try:
            if made is None:
                return 0.0
            return sum(
                self._share[s.fingerprint]
                * (before[s.fingerprint] - self._relative(s, self._cost_with(s, trial)))
                for s in affected
            )
        finally:
            self._drop(candidate)
            for old in replaced:
                self._create(old)

    # -- hypothetical index bookkeeping -------------------------------------------------------
    _live: dict[CandidateIndex, HypotheticalIndex]

    def _create(self, candidate: CandidateIndex) -> HypotheticalIndex | None:
        made = self._hypothetical.create(candidate)
        if isinstance(made, str):
            self._result.rejected[candidate] = f"PostgreSQL refuses this index: {made}"
            return None
        self._live[candidate] = made
        return made

    def _drop(self, candidate: CandidateIndex) -> None:
        index = self._live.pop(candidate, None)
        if index is not None:
            self._hypothetical.drop(index)

    # -- search -------------------------------------------------------------------------------
    def _screen(self, candidates: list[CandidateIndex]) -> list[CandidateIndex]:
        """Keeps the candidates the planner would use at all, a batch at a time."""
        used: set[CandidateIndex] = set()
        for start in range(0, len(candidates), self._bounds.batch_size):
            if self._clock() > self._deadline:
                self._result.bounds_hit.append(
                    f"time budget of {self._bounds.time_budget_s:g} s while screening"
                )
                break
            batch = candidates[start : start + self._bounds.batch_size]
            made: dict[CandidateIndex, HypotheticalIndex] = {}
            for candidate in batch:
                created = self._hypothetical.create(candidate)
                if isinstance(created, str):
                    self._result.rejected[candidate] = f"PostgreSQL refuses this index: {created}"
                else:
                    made[candidate] = created
            by_name = {index.name: candidate for candidate, index in made.items()}
            for statement in self._affected(batch):
                planned = plan_cost(
                    self._session, statement.raw_text, self._version, statement.representative
                )
                used.update(by_name[name] for name in planned.indexes_used if name in by_name)
            self._hypothetical.reset()
            self._live.clear()
        for candidate in candidates:
            if candidate not in used and candidate not in self._result.rejected:
                self._result.rejected[candidate] = "the planner would not use it for any statement"
        return [c for c in candidates if c in used]

    def _threshold(self, candidate: CandidateIndex) -> float:
        table = self._tables.get((candidate.schema_name, candidate.table))
        share = write_share(table, list(self._statements.values())) if table else 0.0
        self._result.write_shares[candidate] = share
        return self._bounds.min_workload_share * (1 + self._bounds.write_penalty * share)

    def run(self, candidates: list[CandidateIndex]) -> Selection:
        self._live = {}
        if len(candidates) > self._bounds.max_candidates:
            self._result.bounds_hit.append(
                f"{len(candidates)} candidates; only the first {self._bounds.max_candidates} were evaluated"
            )
            candidates = candidates[: self._bounds.max_candidates]
        useful = self._screen(candidates)
        chosen: list[CandidateIndex] = []
        # Max-heap of gains. A gain computed when `chosen` had another size is only an upper bound:
        # it is re-evaluated, and a candidate is taken only when its fresh gain still leads.
        heap: list[tuple[float, int, CandidateIndex]] = [(-float("inf"), n, c) for n, c in enumerate(useful)]
        heapq.heapify(heap)
        fresh_at: dict[CandidateIndex, int] = {}
        while heap and len(chosen) < self._bounds.max_indexes:
            if self._clock() > self._deadline:
                self._result.bounds_hit.append(
                    f"time budget of {self._bounds.time_budget_s:g} s while selecting"
                )
                break
            negative_gain, order, candidate = heapq.heappop(heap)
            if any(existing.covers(candidate) for existing in chosen):
                self._result.rejected[candidate] = "a wider recommended index already serves it"
                continue
            replaced = [existing for existing in chosen if candidate.covers(existing)]
            if fresh_at.get(candidate) != len(chosen):
                fresh_at[candidate] = len(chosen)
                heapq.heappush(heap, (-self._gain(chosen, candidate, replaced), order, candidate))
                continue
            gain = -negative_gain
            if gain < self._threshold(candidate):
                self._result.rejected[candidate] = (
                    f"removes only {100 * gain:.1f}% of the workload's weighted cost"
                    if not replaced
                    else f"widening {', '.join(sorted(r.key() for r in replaced))} gains only {100 * gain:.1f}%"
                )
                continue
            for old in replaced:
                self._drop(old)
                self._result.rejected[old] = f"replaced by the wider {candidate.key()}"
            chosen = [*(c for c in chosen if c not in replaced), candidate]
            self._create(candidate)
        if heap and len(chosen) >= self._bounds.max_indexes:
            self._result.bounds_hit.append(f"stopped at {self._bounds.max_indexes} indexes")
        return self._finish(self._refine(chosen, set(candidates)))

    def _refine(self, chosen: list[CandidateIndex], pool: set[CandidateIndex]) -> list[CandidateIndex]:
        """Every chosen index judged against all the others: narrowed or dropped when it does not pay."""
        changed = True
        while changed:
            changed = False
            for candidate in chosen:
                if self._clock() > self._deadline:
                    self._result.bounds_hit.append(
                        f"time budget of {self._bounds.time_budget_s:g} s while re-judging the chosen indexes"
                    )
                    return chosen
                revised = self._narrowed(chosen, candidate, pool) or self._dropped(chosen, candidate)
                if revised is not None:
                    chosen, changed = revised, True
                    break
        return chosen

    def _narrowed(
        self, chosen: list[CandidateIndex], candidate: CandidateIndex, pool: set[CandidateIndex]
    ) -> list[CandidateIndex] | None:
        """`chosen` with `candidate` replaced by its narrowest prefix it does not beat, if any."""
        for width in range(1, len(candidate.columns)):
            narrower = CandidateIndex(candidate.schema_name, candidate.table, candidate.columns[:width])
            if narrower not in pool or any(o is not candidate and o.covers(narrower) for o in chosen):
                continue
            gain = -self._gain(chosen, narrower, [candidate])  # what the wider one adds
            if gain < self._threshold(candidate):
                self._drop(candidate)
                if self._create(narrower) is None:
                    self._create(candidate)
                    continue
                self._result.rejected.pop(narrower, None)
                self._threshold(narrower)  # records its table's write share for the rationale
                self._result.rejected[candidate] = f"widening {narrower.key()} gains only {100 * gain:.1f}%"
                return [narrower if c == candidate else c for c in chosen]
        return None

    def _dropped(
        self, chosen: list[CandidateIndex], candidate: CandidateIndex
    ) -> list[CandidateIndex] | None:
        """`chosen` without `candidate` when, beside all the others, it no longer pays."""
        others = [c for c in chosen if c != candidate]
        self._drop(candidate)
        gain = self._gain(others, candidate, [])
        if gain >= self._threshold(candidate):
            self._create(candidate)
            return None
        self._result.rejected[candidate] = (
            f"beside the other recommended indexes it removes only {100 * gain:.1f}% of the workload's weighted cost"
        )
        return others

    def _finish(self, chosen: list[CandidateIndex]) -> Selection:
        result = self._result
        result.chosen = chosen
        by_key = {c.key(): c for c in chosen}
        for candidate in chosen:
            if candidate in self._live:
                result.estimated_sizes[candidate] = self._hypothetical.estimated_size(self._live[candidate])
        for statement in self._statements.values():
            evaluated = self._cost_with(statement, chosen)
            result.final_costs[statement.fingerprint] = evaluated
            for key in evaluated.indexes_used:
                if key in by_key:
                    result.served_by.setdefault(by_key[key], []).append(statement.fingerprint)
        return result
