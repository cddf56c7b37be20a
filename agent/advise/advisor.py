"""The advisor: from a collected workload to proven recommendations and the reasons for the rest.

Runs entirely in the agent, against the monitored database, with no control plane and no LLM.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from agent.advise.candidate_index import CandidateIndex
from agent.advise.candidates import MAX_COVERING_WIDTH, MAX_KEY_WIDTH, candidates_for_statement
from agent.advise.config_findings import work_mem_findings
from agent.advise.hypothetical import HypotheticalIndexes, hypopg_schema
from agent.advise.index_findings import index_findings
from agent.advise.name_resolution import ViewDefinitions
from agent.advise.pattern_indexes import pattern_recommendations
from agent.advise.plan_costs import plan_cost
from agent.advise.recommendation_ids import recommendation_id
from agent.advise.representative_plans import GENERIC_PLAN_OPTION_VERSION, RepresentativeValues
from agent.advise.selection import SearchBounds, Selection, WhatIfSearch
from agent.advise.statement_reasons import catalog_reason, reason_without_candidates, unknown_tables_reason
from agent.advise.view_definitions import read_view_definitions
from agent.advise.workload import AdvisedStatement, advised_statements
from agent.config import RunSettings
from agent.db.session import AgentSession
from agent.snapshot.collector import Collection
from shared.wire.advice import AdviceReport, QueryEvidence, Recommendation, SkippedStatement, Tier

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AdvisorSettings:
    min_improvement_pct: float = 20.0
    bounds: SearchBounds = field(default_factory=SearchBounds)
    max_width: int = MAX_KEY_WIDTH
    max_covering_width: int = MAX_COVERING_WIDTH
    min_stats_age: timedelta = timedelta(hours=RunSettings.advise_min_stats_age_h)
    stats_age: timedelta | None = None  # how long index usage has been counted; None: unknown


def create_index_recommendation(
    candidate: CandidateIndex,
    *,
    tier: Tier,
    queries: list[QueryEvidence],
    rationale: str,
    improvement_pct: float | None = None,
) -> Recommendation:
    return Recommendation(
        id=recommendation_id("create_index", candidate.key()),
        kind="create_index",
        tier=tier,
        sql=candidate.create_sql(),
        rollback_sql=candidate.rollback_sql(),
        table=f"{candidate.schema_name}.{candidate.table}",
        columns=list(candidate.columns),
        improvement_pct=improvement_pct,
        queries=queries,
        rationale=rationale,
    )


class Advisor:
    def __init__(self, session: AgentSession, collection: Collection, settings: AdvisorSettings) -> None:
        self._session = session
        self._collection = collection
        self._settings = settings
        self._version = collection.snapshot.server.version_num
        self._skipped: list[SkippedStatement] = []
        self._proposals: dict[str, list[CandidateIndex]] = {}
        self._views: ViewDefinitions = {}

    def advise(self) -> AdviceReport:
        catalog_only = self._collection.snapshot.dropped.catalog_only
        if catalog_only:
            self._skipped.append(SkippedStatement(reason=catalog_reason(catalog_only)))
        self._views = read_view_definitions(
            self._session,
            {relation for item in self._collection.workload for relation in item.stats.relations},
            {t.name for t in self._collection.schema.tables},
        )
        analyzed = self._planned_statements()
        schema = hypopg_schema(self._session)
        candidates = self._candidates(analyzed, covering=schema is not None)
        statements = self._with_known_tables(analyzed)
        proposed = {c for s in statements for c in self._proposals.get(s.fingerprint, [])}
        candidates = {c: w for c, w in candidates.items() if c in proposed}
        installed = {str(row[0]) for row in self._session.fetch_all("SELECT extname FROM pg_extension")}
        recommendations = pattern_recommendations(statements, self._collection.schema, installed, self._views)
        bounds_hit: list[str] = []
        selection: Selection | None = None
        if schema is None:
            recommendations += self._unverified(statements, candidates)
        elif candidates:
            with HypotheticalIndexes(self._session, schema) as hypothetical:
                # Ties in weight are broken by the candidate itself: the same order on every run.
                selection = WhatIfSearch(
                    self._session,
                    hypothetical,
                    server_version_num=self._version,
                    statements=statements,
                    tables=self._collection.schema.tables,
                    bounds=self._settings.bounds,
                ).run(sorted(candidates, key=lambda c: (-candidates[c], c)))
            recommendations += self._verified(statements, selection)
            bounds_hit = selection.bounds_hit
        served = {q.fingerprint for r in recommendations for q in r.queries}
        explained = {s.fingerprint for s in self._skipped}
        for statement in statements:
            if statement.fingerprint not in served | explained:
                self._skip(statement, self._reason(statement, selection))
        recommendations += index_findings(
            self._collection.schema.indexes,
            stats_age=self._settings.stats_age,
            min_stats_age=self._settings.min_stats_age,
            raw_definitions=self._collection.schema.raw_index_definitions,
        )
        recommendations += work_mem_findings(
            [item.stats for item in self._collection.workload], self._collection.snapshot.server
        )
        return AdviceReport(
            server_version=self._collection.snapshot.server.version,
            hypopg=schema is not None,
            statements_analyzed=len(analyzed),
            recommendations=recommendations,
            skipped=self._skipped,
            bounds_hit=bounds_hit,
        )

    # -- workload --------------------------------------------------------------------------------
    def _planned_statements(self) -> list[AdvisedStatement]:
        planned: list[AdvisedStatement] = []
        tables = self._collection.schema.tables
        partitioned = [t for t in tables if t.is_partitioned]
        values = RepresentativeValues(self._session)
        for statement in advised_statements(self._collection.workload):
            if self._version < GENERIC_PLAN_OPTION_VERSION and any(statement.touches(t) for t in partitioned):
                statement.representative = values.arguments(statement.raw_text, tables, self._views)
            base = plan_cost(self._session, statement.raw_text, self._version, statement.representative)
            if base.cost is None:
                self._skip(statement, f"the planner cannot explain it: {base.error}")
                continue
            statement.base_cost, statement.base_indexes = base.cost, base.indexes_used
            planned.append(statement)
        return planned

    def _candidates(
        self, statements: Sequence[AdvisedStatement], *, covering: bool
    ) -> dict[CandidateIndex, float]:
        """Every candidate with the total weight of the statements proposing it (for search order)."""
        schema = self._collection.schema
        weights: dict[CandidateIndex, float] = {}
        for statement in statements:
            found = candidates_for_statement(
                statement.raw_text,
                schema.tables,
                schema.indexes,
                max_width=self._settings.max_width,
                max_covering_width=self._settings.max_covering_width,
                covering=covering,
                views=self._views,
            )
            self._proposals[statement.fingerprint] = found
            # Tables reached beneath views and CTEs: the search re-costs the statement for them.
            statement.reached = frozenset(f"{c.schema_name}.{c.table}" for c in found)
            for candidate in found:
                weights[candidate] = weights.get(candidate, 0.0) + statement.weight
        return weights

    def _with_known_tables(self, statements: list[AdvisedStatement]) -> list[AdvisedStatement]:
        """The statements whose tables the planner has statistics for; the others are skipped."""
        known: list[AdvisedStatement] = []
        for statement in statements:
            tables = [t for t in self._collection.schema.tables if statement.touches(t)]
            reason = unknown_tables_reason(tables)
            if reason is None:
                known.append(statement)
            else:
                self._skip(statement, reason)
        return known

    def _skip(self, statement: AdvisedStatement, reason: str) -> None:
        self._skipped.append(
            SkippedStatement(fingerprint=statement.fingerprint, query=statement.stats.query, reason=reason)
        )

    # -- verified (HypoPG) -------------------------------------------------------------------------
    def _verified(self, statements: list[AdvisedStatement], selection: Selection) -> list[Recommendation]:
        by_fingerprint = {s.fingerprint: s for s in statements}
        recommendations: list[Recommendation] = []
        for candidate in selection.chosen:
            members = [by_fingerprint[fp] for fp in selection.served_by.get(candidate, [])]
            evidence = [self._evidence(s, selection) for s in members]
            before = sum(e.calls * (e.cost_before or 0) for e in evidence)
            after = sum(e.calls * (e.cost_after or 0) for e in evidence)
            improvement = round(100 * (before - after) / before, 1) if before > 0 else 0.0
            if improvement < self._settings.min_improvement_pct:
                for statement in members:
                    self._skip(
                        statement,
                        f"{candidate.key()} would cut the cost of the statements it serves by only "
                        f"{improvement:.1f}% (below {self._settings.min_improvement_pct:g}%)",
                    )
                continue
            recommendations.append(self._index_recommendation(candidate, evidence, improvement, selection))
        return recommendations

    def _evidence(self, statement: AdvisedStatement, selection: Selection) -> QueryEvidence:
        after = selection.final_costs[statement.fingerprint].cost
        return QueryEvidence(
            fingerprint=statement.fingerprint,
            query=statement.stats.query,
            calls=statement.stats.calls,
            cost_before=round(statement.base_cost, 2),
            cost_after=round(after if after is not None else statement.base_cost, 2),
        )

    def _index_recommendation(
        self,
        candidate: CandidateIndex,
        evidence: list[QueryEvidence],
        improvement: float,
        selection: Selection,
    ) -> Recommendation:
        size_mb = selection.estimated_sizes.get(candidate, 0) / 1_048_576
        best = max(evidence, key=lambda e: e.calls * ((e.cost_before or 0) - (e.cost_after or 0)))
        rationale = (
            f"{len(evidence)} statement(s) on {candidate.schema_name}.{candidate.table} get cheaper with it "
            f"(HypoPG, generic plans): the busiest goes from cost {best.cost_before:g} to {best.cost_after:g} "
            f"over {best.calls} calls. Estimated size {size_mb:.1f} MB (HypoPG; real B-trees are often smaller)."
        )
        share = selection.write_shares.get(candidate, 0.0)
        if share >= 0.1:
            rationale += (
                f" Writes take {100 * share:.0f}% of the time spent on this table and every index makes them "
                "dearer: it was held to a higher bar."
            )
        return create_index_recommendation(
            candidate, tier="verified", queries=evidence, rationale=rationale, improvement_pct=improvement
        )

    def _reason(self, statement: AdvisedStatement, selection: Selection | None) -> str:
        proposals = self._proposals.get(statement.fingerprint, [])
        if not proposals or selection is None:
            return reason_without_candidates(statement, self._collection.schema)
        reasons = [f"{c.key()}: {selection.rejected[c]}" for c in proposals if c in selection.rejected]
        if reasons:
            return "no candidate index pays off; " + "; ".join(reasons[:3])
        return "no candidate index lowered its estimated cost"

    # -- without HypoPG ----------------------------------------------------------------------------
    def _unverified(
        self, statements: list[AdvisedStatement], candidates: dict[CandidateIndex, float]
    ) -> list[Recommendation]:
        major = self._version // 10000
        how = (
            f"HypoPG is not installed, so this idea is not verified: install it (apt-get install "
            f"postgresql-{major}-hypopg, then CREATE EXTENSION hypopg;) and run advise again."
        )
        recommendations: list[Recommendation] = []
        for statement in statements:
            proposals = self._proposals.get(statement.fingerprint, [])
            if not proposals:
                continue
            widest = max(proposals, key=lambda c: (len(c.columns), -candidates[c]))
            recommendations.append(
                create_index_recommendation(
                    widest,
                    tier="advisory",
                    queries=[
                        QueryEvidence(
                            fingerprint=statement.fingerprint,
                            query=statement.stats.query,
                            calls=statement.stats.calls,
                        )
                    ],
                    rationale=f"Filter, join or sort columns of a statement taking {statement.weight:.0f} ms. {how}",
                )
            )
        unique: dict[str, Recommendation] = {}
        for recommendation in recommendations:
            unique.setdefault(recommendation.id, recommendation)
        return list(unique.values())
