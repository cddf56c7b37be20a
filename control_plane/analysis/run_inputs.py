"""Everything one analysis run needs from the metadata database, read in one short transaction.

The LLM is asked afterwards, outside any transaction: a slow provider must not hold a connection
(or locks) for the length of its answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.analysis.context import (
    StatementContext,
    TableContext,
    relevant_settings,
    schema_tables,
    touched_tables,
)
from control_plane.analysis.llm.provider import ProviderConfig
from control_plane.analysis.llm_repository import LLMRepository
from control_plane.analysis.plan_nodes import flatten
from control_plane.analysis.provider_settings import ProviderSettingsService, this_month
from control_plane.analysis.runs_repository import AnalysisRunRepository
from control_plane.analysis.workload_repository import WorkloadRepository
from control_plane.models import AnalysisRun
from control_plane.settings import Settings
from control_plane.tenancy.context import TenantContext


@dataclass(frozen=True)
class CachedAnswer:
    provider: str
    model: str
    text: str


@dataclass
class RunInputs:
    contexts: list[StatementContext]
    known_tables: list[TableContext]
    recommended_indexes: set[tuple[str, tuple[str, ...]]]
    agent_findings: int
    providers: list[ProviderConfig]
    notices: list[str] = field(default_factory=list)
    cached: dict[str, CachedAnswer] = field(default_factory=dict)  # by fingerprint
    token_budget: int = 0
    tokens_used: int = 0


async def gather_inputs(
    session: AsyncSession, context: TenantContext, settings: Settings, run: AnalysisRun
) -> RunInputs:
    workload = WorkloadRepository(session, context, run.database_id)
    now = await AnalysisRunRepository(session, context).now()
    figures = await workload.figures(
        now - timedelta(seconds=settings.analysis_window_s),
        list(run.fingerprints) or None,
        max(settings.analysis_statements_per_run, len(run.fingerprints)),
    )
    statements = {s.fingerprint: s for s in await workload.statements(list(figures))}
    plans = await workload.plans(list(figures))
    schema = await workload.schema()
    known_tables = schema_tables(schema.tables, schema.indexes) if schema else []
    settings_now = relevant_settings(await workload.latest_settings())
    contexts = []
    for fingerprint, figure in figures.items():
        statement = statements.get(fingerprint)
        if statement is None:
            continue
        plan = plans.get(fingerprint)
        contexts.append(
            StatementContext(
                fingerprint=fingerprint,
                query=statement.query,
                statement_type=statement.statement_type,
                workload=figure,
                plan=plan.plan if plan else None,
                plan_cost=plan.total_cost if plan else None,
                tables=touched_tables(
                    statement.relations, flatten(plan.plan if plan else None), known_tables
                ),
                settings=settings_now,
            )
        )
    providers_service = ProviderSettingsService(session, context, settings)
    providers, notices = await providers_service.configs()
    llm = LLMRepository(session, context)
    inputs = RunInputs(
        contexts=contexts,
        known_tables=known_tables,
        recommended_indexes=await workload.index_recommendations(),
        agent_findings=await workload.agent_findings(),
        providers=providers,
        notices=notices,
        token_budget=await providers_service.effective_budget(),
        tokens_used=await llm.tokens_used(this_month(now)),
    )
    for statement_context in contexts:
        for provider in providers:
            answer = await llm.cached_answer(
                statement_context.fingerprint,
                statement_context.context_hash(),
                provider.label,
                provider.model,
            )
            if answer is not None:
                inputs.cached[statement_context.fingerprint] = CachedAnswer(
                    provider.label, provider.model, answer
                )
                break
    return inputs
