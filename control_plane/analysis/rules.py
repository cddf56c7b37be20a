"""Plan analysis without an LLM: what a DBA would point at first in a plan and its statistics.

Pure functions of a StatementContext. Index ideas are only ideas: they go to the agent's simulation
like any LLM idea and become recommendations only when HypoPG shows the cost cut. Configuration and
schema advice cannot be simulated, so it is `advisory`, with its confidence and risk stated.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from control_plane.analysis.context import StatementContext, TableContext
from control_plane.analysis.plan_nodes import PlanNode

BLOCK_BYTES = 8192
MAX_INDEX_COLUMNS = 3
_IDENTIFIER = re.compile(r'"([^"]+)"|\b([A-Za-z_][A-Za-z0-9_$]*)\b')
_EQUALITY = re.compile(r'(?:"([^"]+)"|\b([A-Za-z_][A-Za-z0-9_]*))\s*=\s*(?:\$\d+|\?|\'\?\')')


@dataclass(frozen=True)
class RuleThresholds:
    large_table_rows: int = 10_000
    selective_fraction: float = 0.1
    estimate_error_factor: float = 10.0


@dataclass(frozen=True)
class RuleFinding:
    rule: Literal["seq_scan_selective_filter", "temp_spill", "nested_loop_large_outer", "row_estimate_error"]
    kind: Literal["index_idea", "advisory"]
    rationale: str
    table: str | None = None
    columns: tuple[str, ...] = ()
    sql: str | None = None
    confidence: float = 0.5
    risk: Literal["low", "medium", "high"] = "low"


def find_rule_findings(context: StatementContext, thresholds: RuleThresholds) -> list[RuleFinding]:
    nodes = context.nodes()
    findings = [
        *_selective_seq_scans(context, nodes, thresholds),
        *_temp_spills(context, nodes),
        *_nested_loops_over_large_outer(nodes, context, thresholds),
        *_row_estimate_errors(nodes, thresholds),
    ]
    unique: dict[tuple[str, str | None, tuple[str, ...]], RuleFinding] = {}
    for finding in findings:
        unique.setdefault((finding.rule, finding.table, finding.columns), finding)
    return list(unique.values())


def filter_columns(condition: str, table: TableContext) -> tuple[str, ...]:
    """Columns of `table` in a condition, equality comparisons first, in order of appearance."""
    equal = [a or b for a, b in _EQUALITY.findall(condition)]
    every = [a or b for a, b in _IDENTIFIER.findall(condition)]
    ordered = dict.fromkeys(c for c in [*equal, *every] if table.has_column(c))
    return tuple(ordered)[:MAX_INDEX_COLUMNS]


def _selective_seq_scans(
    context: StatementContext, nodes: list[PlanNode], thresholds: RuleThresholds
) -> list[RuleFinding]:
    found = []
    for node in nodes:
        if node.node_type != "Seq Scan" or "Filter" not in node.conditions:
            continue
        table = context.table(node.relation)
        if table is None or table.row_estimate < thresholds.large_table_rows:
            continue
        fraction = node.plan_rows / table.row_estimate
        if fraction > thresholds.selective_fraction:
            continue
        columns = filter_columns(node.conditions["Filter"], table)
        if not columns:
            continue
        found.append(
            RuleFinding(
                rule="seq_scan_selective_filter",
                kind="index_idea",
                table=table.name,
                columns=columns,
                rationale=(
                    f"A sequential scan reads all ~{table.row_estimate:,.0f} rows of {table.name} to keep "
                    f"~{node.plan_rows:,.0f} ({100 * fraction:.2g}%) under the filter {node.conditions['Filter']}; "
                    f"an index on ({', '.join(columns)}) could find them directly."
                ),
                confidence=0.7,
                risk="low",
            )
        )
    return found


def _work_mem_advice(context: StatementContext) -> str:
    """A work_mem that would have held the statement's temp files, rounded up to a power of two MB."""
    calls = max(context.workload.calls, 1)
    per_call = context.workload.temp_blks_written * BLOCK_BYTES / calls
    megabytes = max(4, 2 ** math.ceil(math.log2(max(per_call / 2**20, 1))))
    return f"SET work_mem = '{megabytes}MB';"


def _temp_spills(context: StatementContext, nodes: list[PlanNode]) -> list[RuleFinding]:
    written = context.workload.temp_blks_written
    if written <= 0:
        return []
    spilling = [
        n for n in nodes if n.node_type in ("Sort", "Hash", "HashAggregate", "Aggregate", "Materialize")
    ]
    where = f" in its {spilling[0].describe()}" if spilling else ""
    current = context.settings.get("work_mem", "unknown")
    return [
        RuleFinding(
            rule="temp_spill",
            kind="advisory",
            sql=_work_mem_advice(context),
            rationale=(
                f"The statement wrote {written:,} temp blocks ({written * BLOCK_BYTES / 2**20:,.1f} MB) over "
                f"{context.workload.calls:,} calls: its sorts or hashes spill to disk{where} with work_mem = "
                f"{current}. Raising work_mem for this statement's session (not globally: every sort of "
                f"every connection may use that much) keeps them in memory. Confidence 0.6, risk medium."
            ),
            confidence=0.6,
            risk="medium",
        )
    ]


def _nested_loops_over_large_outer(
    nodes: list[PlanNode], context: StatementContext, thresholds: RuleThresholds
) -> list[RuleFinding]:
    found = []
    for node in nodes:
        if node.node_type != "Nested Loop" or not node.children:
            continue
        outer = nodes[node.children[0]]
        if outer.plan_rows < thresholds.large_table_rows:
            continue
        inner = nodes[node.children[1]] if len(node.children) > 1 else None
        outer_table = _first_relation(nodes, node.children[0])
        sql = f"ANALYZE {outer_table};" if outer_table else None
        found.append(
            RuleFinding(
                rule="nested_loop_large_outer",
                kind="advisory",
                table=outer_table,
                sql=sql,
                rationale=(
                    f"A nested loop runs its inner side ({inner.describe() if inner else 'unknown'}) once for "
                    f"each of ~{outer.plan_rows:,.0f} outer rows ({outer.describe()}). If the estimate is right, "
                    "a hash or merge join would read each side once; if it is stale, fresh statistics fix the "
                    "join choice. Confidence 0.4, risk low."
                ),
                confidence=0.4,
                risk="low",
            )
        )
    return found


def _first_relation(nodes: list[PlanNode], position: int) -> str | None:
    node = nodes[position]
    if node.relation:
        return node.relation
    for child in node.children:
        found = _first_relation(nodes, child)
        if found:
            return found
    return None


def _row_estimate_errors(nodes: list[PlanNode], thresholds: RuleThresholds) -> list[RuleFinding]:
    """Only plans that were executed (EXPLAIN ANALYZE) carry actual rows; generic plans have none."""
    found = []
    for node in nodes:
        if node.actual_rows is None or node.relation is None:
            continue
        estimated, actual = max(node.plan_rows, 1.0), max(node.actual_rows, 1.0)
        factor = max(estimated, actual) / min(estimated, actual)
        if factor < thresholds.estimate_error_factor:
            continue
        found.append(
            RuleFinding(
                rule="row_estimate_error",
                kind="advisory",
                table=node.relation,
                sql=f"ANALYZE {node.relation};",
                rationale=(
                    f"{node.describe()} was estimated at ~{node.plan_rows:,.0f} rows but returned "
                    f"~{node.actual_rows:,.0f} ({factor:,.0f}x off): plans built on that estimate may pick the "
                    "wrong join or scan. Fresh statistics (or extended statistics on correlated columns) "
                    "fix the estimate. Confidence 0.5, risk low."
                ),
                confidence=0.5,
                risk="low",
            )
        )
    return found
