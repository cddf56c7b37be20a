"""A plain-English explanation of a statement's plan when no LLM wrote one: its costliest nodes.

Deterministic on purpose: the same plan and figures always read the same, so a person can check
it against the plan itself.
"""

from __future__ import annotations

from control_plane.analysis.context import StatementContext
from control_plane.analysis.plan_nodes import PlanNode, costliest
from control_plane.analysis.rules import BLOCK_BYTES

MAX_EXPLANATION_LENGTH = 4000


def _node_sentence(node: PlanNode, plan_cost: float) -> str:
    share = f" ({100 * node.self_cost / plan_cost:.0f}% of the plan's cost)" if plan_cost > 0 else ""
    conditions = "; ".join(f"{key.lower()} {value}" for key, value in node.conditions.items())
    detail = f", {conditions}" if conditions else ""
    return f"{node.describe()} produces ~{node.plan_rows:,.0f} rows{detail}, costing {node.self_cost:,.1f}{share}."


def deterministic_explanation(context: StatementContext) -> str:
    workload = context.workload
    parts = [
        f"Called {workload.calls:,} times, {workload.mean_ms:,.2f} ms on average, "
        f"{workload.load_pct:.1f}% of the database's statement time in the analysed window."
    ]
    nodes = context.nodes()
    if nodes:
        plan_cost = nodes[0].total_cost
        parts.append(f"The planner estimates a total cost of {plan_cost:,.1f}; most of it is spent here:")
        parts.extend(_node_sentence(node, plan_cost) for node in costliest(nodes) if node.self_cost > 0)
    else:
        parts.append("No plan has been collected for it yet.")
    if workload.temp_blks_written:
        megabytes = workload.temp_blks_written * BLOCK_BYTES / 2**20
        parts.append(
            f"It wrote {megabytes:,.1f} MB of temporary files: a sort or hash did not fit in work_mem."
        )
    reads = workload.shared_blks_read
    touched = workload.shared_blks_hit + reads
    if touched:
        parts.append(
            f"{100 * reads / touched:.0f}% of the blocks it touched were read from outside the buffer cache."
        )
    return " ".join(parts)[:MAX_EXPLANATION_LENGTH]
