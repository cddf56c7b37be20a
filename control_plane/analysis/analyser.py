"""One analysis run from findings to stored results: rules, the LLM, proof jobs, advice, explanations.

`consult_all` works on the inputs alone (no transaction held while a provider thinks); `store_results`
writes everything in the caller's transaction and finishes the run, only if this worker still holds
its lease (see AnalysisRunRepository.finish).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.analysis.consultation import Consultation, consult
from control_plane.analysis.context import StatementContext
from control_plane.analysis.explanation import deterministic_explanation
from control_plane.analysis.llm.failover import ProviderChain
from control_plane.analysis.llm_repository import LLMRepository
from control_plane.analysis.proof import ProofIdea, queue_proof
from control_plane.analysis.provider_settings import this_month
from control_plane.analysis.rules import RuleFinding, RuleThresholds, find_rule_findings
from control_plane.analysis.run_inputs import RunInputs
from control_plane.analysis.runs_repository import AnalysisRunRepository
from control_plane.analysis.suggestions_repository import SuggestionRepository
from control_plane.analysis.validation import AcceptedSuggestion, DroppedSuggestion
from control_plane.models import AnalysisRun
from control_plane.recommendations.repository import RecommendationRepository
from control_plane.settings import Settings
from control_plane.tenancy.context import TenantContext

ADVISORY_SQL = "-- advisory only: nothing to apply"


@dataclass
class StatementFindings:
    context: StatementContext
    rules: list[RuleFinding]
    consultation: Consultation


@dataclass
class RunFindings:
    statements: list[StatementFindings] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


def rule_thresholds(settings: Settings) -> RuleThresholds:
    return RuleThresholds(
        large_table_rows=settings.analysis_large_table_rows,
        selective_fraction=settings.analysis_selective_fraction,
        estimate_error_factor=settings.analysis_estimate_error_factor,
    )


async def consult_all(inputs: RunInputs, chain: ProviderChain | None, settings: Settings) -> RunFindings:
    findings = RunFindings(notices=list(inputs.notices))
    tokens_used = inputs.tokens_used
    over_budget = unavailable = False
    for context in inputs.contexts:
        consultation = Consultation()
        if chain is not None and not unavailable:
            consultation = await consult(
                chain,
                inputs.providers,
                context,
                inputs.known_tables,
                inputs.cached.get(context.fingerprint),
                inputs.token_budget - tokens_used,
            )
            if consultation.fresh is not None:
                tokens_used += consultation.fresh.input_tokens + consultation.fresh.output_tokens
            if consultation.notice == "budget":
                over_budget = True
            elif consultation.notice is not None:
                unavailable = True  # one outage per run is enough to wait for; the rules go on
                findings.notices.append(consultation.notice)
        findings.statements.append(
            StatementFindings(context, find_rule_findings(context, rule_thresholds(settings)), consultation)
        )
    if over_budget:
        findings.notices.append(
            f"the tenant's monthly LLM token budget ({inputs.token_budget:,} tokens) is used up "
            f"({tokens_used:,} used this month): analysed by rules only"
        )
    if chain is None and not inputs.notices:
        findings.notices.append("no LLM provider is configured: analysed by rules only")
    return findings


def _evidence(context: StatementContext, **extra: Any) -> dict[str, Any]:
    return {
        "fingerprint": context.fingerprint,
        "query": context.query,
        "calls": context.workload.calls,
        **extra,
    }


def _has_index(inputs: RunInputs, table: str, columns: tuple[str, ...]) -> bool:
    for known in inputs.known_tables:
        if known.name == table and any(index.columns[: len(columns)] == columns for index in known.indexes):
            return True
    return False


def _proof_ideas(
    inputs: RunInputs, statement: StatementFindings, dropped: list[DroppedSuggestion]
) -> list[ProofIdea]:
    context = statement.context
    evidence = {"query": context.query, "calls": context.workload.calls}
    ideas = [
        ProofIdea(
            "rules",
            "create_index",
            context.fingerprint,
            f.rationale,
            evidence,
            f.table,
            f.columns,
            None,
            f.confidence,
            f.risk,
        )
        for f in statement.rules
        if f.kind == "index_idea" and f.table
    ]
    for accepted in statement.consultation.accepted:
        if accepted.kind in ("create_index", "rewrite"):
            ideas.append(
                ProofIdea(
                    "llm", accepted.kind, context.fingerprint, accepted.rationale, evidence, accepted.table,
                    accepted.columns, accepted.sql, accepted.confidence, accepted.risk,
                )
            )  # fmt: skip
    # An index the LLM and the rules both propose is proven once, as the LLM's: the rules' copy is
    # recorded as corroboration, so the run shows that the model's idea was itself put to the test.
    ideas.sort(key=lambda idea: idea.source != "llm")
    kept = []
    proposed_now: dict[tuple[str, tuple[str, ...]], str] = {}
    for idea in ideas:
        if idea.kind == "create_index":
            key = (idea.table or "", idea.columns)
            if key in inputs.recommended_indexes or _has_index(inputs, *key):
                dropped.append(
                    DroppedSuggestion(
                        context.fingerprint,
                        f"{idea.source} create_index",
                        "this index exists or is already recommended"
                        if key not in proposed_now
                        else f"the same index as the {proposed_now[key]} suggestion, which is proven instead",
                    )
                )
                continue
            inputs.recommended_indexes.add(key)
            proposed_now[key] = idea.source
        kept.append(idea)
    return kept


def _advisory_rows(statement: StatementFindings) -> list[tuple[str, dict[str, Any]]]:
    context = statement.context
    rows: list[tuple[str, dict[str, Any]]] = []
    advice: list[tuple[str, str, RuleFinding | AcceptedSuggestion]] = [
        ("rules", f"rules:{f.rule}:{context.fingerprint}:{f.table or ''}", f)
        for f in statement.rules
        if f.kind == "advisory"
    ]
    for accepted in statement.consultation.accepted:
        if accepted.kind == "advisory":
            digest = hashlib.sha256(f"{accepted.sql}|{accepted.rationale}".encode()).hexdigest()[:16]
            advice.append(("llm", f"llm:advisory:{context.fingerprint}:{digest}", accepted))
    for source, key, item in advice:
        rows.append(
            (
                source,
                {
                    "stable_key": key,
                    "kind": "config",
                    "tier": "advisory",
                    "sql": item.sql or ADVISORY_SQL,
                    "rollback_sql": None,
                    "table_name": item.table,
                    "columns": [],
                    "improvement_pct": None,
                    "rationale": item.rationale
                    if source == "rules"
                    else f"{item.rationale} (confidence {item.confidence:.2g}, risk {item.risk})",
                    "evidence": [_evidence(context, confidence=item.confidence, risk=item.risk)],
                    "fingerprints": [context.fingerprint],
                },
            )
        )
    return rows


async def store_results(
    session: AsyncSession,
    context: TenantContext,
    settings: Settings,
    run: AnalysisRun,
    inputs: RunInputs,
    findings: RunFindings,
) -> bool:
    llm = LLMRepository(session, context)
    suggestions = SuggestionRepository(session, context)
    recommendations = RecommendationRepository(session, context)
    month = this_month(await AnalysisRunRepository(session, context).now())
    dropped: list[DroppedSuggestion] = []
    counts = {
        "statements": 0,
        "rule_findings": 0,
        "proofs_queued": 0,
        "advisories": 0,
        "llm_calls": 0,
        "llm_cache_hits": 0,
        "tokens": 0,
    }
    for statement in findings.statements:
        statement_context, consultation = statement.context, statement.consultation
        fresh = consultation.fresh
        if fresh is not None:
            await llm.add_tokens(month, fresh.input_tokens, fresh.output_tokens)
            await llm.cache_answer(
                statement_context.fingerprint, statement_context.context_hash(), fresh.provider, fresh.model,
                fresh.text, fresh.input_tokens, fresh.output_tokens,
            )  # fmt: skip
            counts["llm_calls"] += 1
            counts["tokens"] += fresh.input_tokens + fresh.output_tokens
        counts["llm_cache_hits"] += int(consultation.cache_hit)
        dropped.extend(consultation.dropped)
        for idea in _proof_ideas(inputs, statement, dropped):
            await queue_proof(session, context, settings, run.database_id, run.id, idea)
            counts["proofs_queued"] += 1
        for source, row in _advisory_rows(statement):
            await recommendations.upsert(run.database_id, source, [row])
            counts["advisories"] += 1
        counts["statements"] += 1
        counts["rule_findings"] += len(statement.rules)
        await suggestions.record_statement(
            run.database_id,
            fingerprint=statement_context.fingerprint,
            run_id=run.id,
            plan_cost=statement_context.plan_cost,
            load_pct=statement_context.workload.load_pct,
            context_hash=statement_context.context_hash(),
            explanation=consultation.explanation or deterministic_explanation(statement_context),
            explanation_source="llm" if consultation.explanation else "rules",
        )
    return await AnalysisRunRepository(session, context).finish(
        run.database_id,
        run.id,
        run.attempts,
        status="succeeded",
        notices=findings.notices,
        dropped=[d.as_record() for d in dropped],
        summary={**counts, "agent_findings": inputs.agent_findings},
    )
