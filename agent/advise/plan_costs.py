"""Generic-plan cost of workload statements, and which indexes their plans use."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from agent.advise.representative_plans import (
    GENERIC_PLAN_OPTION_VERSION,
    RepresentativeArguments,
    representative_plan,
)
from agent.collect.plans import explain_generic
from agent.db.session import AgentSession


@dataclass(frozen=True)
class PlannedCost:
    cost: float | None
    indexes_used: frozenset[str]
    error: str | None = None


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


def plan_cost(
    session: AgentSession,
    raw_text: str,
    server_version_num: int,
    arguments: RepresentativeArguments | None = None,
) -> PlannedCost:
    """`arguments`: representative values for start-up pruning before 16 (see representative_plans);
    when they do not plan, the NULL path's plan and error are the ones reported."""
    outcome = None
    if arguments is not None and server_version_num < GENERIC_PLAN_OPTION_VERSION:
        outcome = representative_plan(session, raw_text, arguments)
    if outcome is None or outcome.plan is None:
        outcome = explain_generic(session, raw_text, server_version_num)
    if outcome.plan is None:
        return PlannedCost(cost=None, indexes_used=frozenset(), error=outcome.error)
    root = outcome.plan[0]["Plan"]
    used = frozenset(str(node["Index Name"]) for node in _nodes(root) if "Index Name" in node)
    return PlannedCost(cost=outcome.total_cost, indexes_used=used)
