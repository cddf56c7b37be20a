"""Generic-plan cost of workload statements, and which indexes their plans use."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

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


def plan_cost(session: AgentSession, raw_text: str, server_version_num: int) -> PlannedCost:
    outcome = explain_generic(session, raw_text, server_version_num)
    if outcome.plan is None:
        return PlannedCost(cost=None, indexes_used=frozenset(), error=outcome.error)
    root = outcome.plan[0]["Plan"]
    used = frozenset(str(node["Index Name"]) for node in _nodes(root) if "Index Name" in node)
    return PlannedCost(cost=outcome.total_cost, indexes_used=used)
