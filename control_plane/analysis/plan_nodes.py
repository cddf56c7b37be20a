"""Reading a stored plan (EXPLAIN FORMAT JSON, already scrubbed by the agent) as a flat list of nodes.

Rules, explanations and the prompt all look at the same few facts of each node, so they are read
here once: its type, the relation it scans, its estimated (and, when the plan has them, actual)
rows, its total cost and the cost of the node alone (its total minus its children's).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# Conditions a node may carry; all are expressions over columns and $n parameters.
CONDITION_KEYS = ("Filter", "Index Cond", "Recheck Cond", "Hash Cond", "Merge Cond", "Join Filter")
MAX_NODES = 60

_STRING_LITERAL = re.compile(r"'(?:[^']|'')*'")
# A number standing on its own (not part of an identifier, not a $n placeholder).
_NUMBER_LITERAL = re.compile(r"(?<![\w$.])-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w.])")


def scrub_literals(expression: str) -> str:
    """Defence in depth: whatever the agent left in an expression, no string or number goes on.

    Stored plans are already scrubbed, but a prompt leaving the product must not depend on that alone.
    """
    return _NUMBER_LITERAL.sub("?", _STRING_LITERAL.sub("'?'", expression))


@dataclass(frozen=True)
class PlanNode:
    depth: int
    node_type: str
    relation: str | None  # schema.table when the plan names one
    alias: str | None
    index_name: str | None
    plan_rows: float
    actual_rows: float | None
    loops: float | None
    total_cost: float
    self_cost: float
    conditions: dict[str, str]
    children: tuple[int, ...]  # positions of the child nodes in the flat list
    sort_keys: tuple[str, ...] = ()

    def describe(self) -> str:
        where = f" on {self.relation}" if self.relation else ""
        using = f" using {self.index_name}" if self.index_name else ""
        return f"{self.node_type}{where}{using}"


def root_of(plan: object) -> dict[str, Any] | None:
    """The top plan node of a stored plan: `{"Plan": {...}}`, `[{"Plan": {...}}]` or the node itself."""
    if isinstance(plan, list):
        plan = plan[0] if plan and isinstance(plan[0], dict) else None
    if not isinstance(plan, dict):
        return None
    inner = plan.get("Plan")
    if isinstance(inner, dict):
        return inner
    return plan if "Node Type" in plan else None


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def flatten(plan: dict[str, Any] | None) -> list[PlanNode]:
    """Every node of the plan, parents before children (depth-first), at most MAX_NODES of them."""
    root = root_of(plan)
    nodes: list[PlanNode] = []
    if root is None:
        return nodes

    def visit(node: dict[str, Any], depth: int) -> int:
        position = len(nodes)
        nodes.append(_placeholder())
        children = [c for c in node.get("Plans", []) or [] if isinstance(c, dict)]
        child_positions = [visit(child, depth + 1) for child in children if len(nodes) < MAX_NODES]
        total = _float(node.get("Total Cost")) or 0.0
        children_cost = sum(nodes[p].total_cost for p in child_positions)
        schema, relation = node.get("Schema"), node.get("Relation Name")
        qualified = None
        if isinstance(relation, str):
            qualified = f"{schema}.{relation}" if isinstance(schema, str) else relation
        nodes[position] = PlanNode(
            depth=depth,
            node_type=str(node.get("Node Type", "?")),
            relation=qualified,
            alias=node.get("Alias") if isinstance(node.get("Alias"), str) else None,
            index_name=node.get("Index Name") if isinstance(node.get("Index Name"), str) else None,
            plan_rows=_float(node.get("Plan Rows")) or 0.0,
            actual_rows=_float(node.get("Actual Rows")),
            loops=_float(node.get("Actual Loops")),
            total_cost=total,
            self_cost=max(total - children_cost, 0.0),
            conditions={
                k: scrub_literals(str(node[k])) for k in CONDITION_KEYS if isinstance(node.get(k), str)
            },
            children=tuple(child_positions),
            sort_keys=tuple(scrub_literals(str(k)) for k in node.get("Sort Key", []) or []),
        )
        return position

    visit(root, 0)
    return nodes


def _placeholder() -> PlanNode:
    return PlanNode(0, "?", None, None, None, 0.0, None, None, 0.0, 0.0, {}, ())


def costliest(nodes: list[PlanNode], limit: int = 3) -> list[PlanNode]:
    return sorted(nodes, key=lambda node: node.self_cost, reverse=True)[:limit]
