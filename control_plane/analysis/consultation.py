"""Asking the LLM about one statement: cache first, then the budget, then the providers in order.

Never raises for anything a provider or its answer does: an outage, a budget used up, prose where
JSON was asked for, suggestions outside the allow-list all end as notices or dropped suggestions
with their reasons, and the rules' findings stand regardless.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from control_plane.analysis.context import StatementContext, TableContext
from control_plane.analysis.llm.failover import ProviderChain
from control_plane.analysis.llm.provider import ProviderConfig
from control_plane.analysis.llm.structured import Rejection, SuggestionSet, parse_structured
from control_plane.analysis.prompt import build_request
from control_plane.analysis.run_inputs import CachedAnswer
from control_plane.analysis.validation import AcceptedSuggestion, DroppedSuggestion, validate_answer


@dataclass(frozen=True)
class FreshAnswer:
    """A provider's answer this run: cached and counted against the budget when the run is stored."""

    provider: str
    model: str
    text: str
    input_tokens: int
    output_tokens: int


@dataclass
class Consultation:
    accepted: list[AcceptedSuggestion] = field(default_factory=list)
    dropped: list[DroppedSuggestion] = field(default_factory=list)
    explanation: str | None = None
    fresh: FreshAnswer | None = None
    cache_hit: bool = False
    notice: str | None = None


def _model_of(providers: list[ProviderConfig], label: str, fallback: str) -> str:
    return next((p.model for p in providers if p.label == label), fallback)


def read_answer(
    text: str, context: StatementContext, known_tables: list[TableContext], consultation: Consultation
) -> Consultation:
    parsed = parse_structured(text, SuggestionSet)
    if isinstance(parsed, Rejection):
        consultation.dropped.append(DroppedSuggestion(context.fingerprint, "answer", parsed.reason))
        return consultation
    consultation.accepted, consultation.dropped = validate_answer(parsed, context, known_tables)
    consultation.explanation = (parsed.explanation or "").strip() or None
    return consultation


async def consult(
    chain: ProviderChain,
    providers: list[ProviderConfig],
    context: StatementContext,
    known_tables: list[TableContext],
    cached: CachedAnswer | None,
    tokens_left: int,
) -> Consultation:
    if cached is not None:
        return read_answer(cached.text, context, known_tables, Consultation(cache_hit=True))
    if tokens_left <= 0:
        return Consultation(notice="budget")
    outcome = await chain.attempt(build_request(context))
    if outcome.response is None:
        reasons = "; ".join(f"{f.provider}: {f.reason}" for f in outcome.failures) or "no provider answered"
        return Consultation(notice=f"the LLM provider could not be used ({reasons}); rules only")
    response = outcome.response
    fresh = FreshAnswer(
        provider=response.provider,
        model=_model_of(providers, response.provider, response.model),
        text=response.text,
        input_tokens=response.input_tokens,
        output_tokens=response.output_tokens,
    )
    return read_answer(response.text, context, known_tables, Consultation(fresh=fresh))
