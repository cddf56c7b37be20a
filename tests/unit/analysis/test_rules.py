"""The rules, one case per line: what a plan and its statistics must show for each finding."""

from __future__ import annotations

from typing import Any

import pytest

from control_plane.analysis.rules import RuleThresholds, find_rule_findings
from tests.unit.analysis.statements import node, scan, statement

THRESHOLDS = RuleThresholds(large_table_rows=10_000, selective_fraction=0.1, estimate_error_factor=10)


@pytest.mark.parametrize(
    ("plan", "temp_blocks", "expected"),
    [
        (scan(rows=99), 0, [("seq_scan_selective_filter", "index_idea", ("device_id",))]),
        (scan(rows=50_000), 0, []),  # half the table: a scan is the right plan
        (scan(rows=99, filter_=None), 0, []),  # no filter: nothing to index
        (scan(rows=99, filter_="((kind = $1) AND (device_id = $2))"), 0, [("seq_scan_selective_filter", "index_idea", ("kind", "device_id"))]),
        (node("Sort", 12000, 100_000, scan(rows=100_000, filter_=None), **{"Sort Key": ["kind"]}), 1200, [("temp_spill", "advisory", ())]),
        (node("Sort", 12000, 100_000, scan(rows=100_000, filter_=None)), 0, []),  # fits in work_mem
        (node("Nested Loop", 90000, 50_000, scan(rows=50_000, filter_=None), node("Index Scan", 8, 1, **{"Relation Name": "accounts"})), 0, [("nested_loop_large_outer", "advisory", ())]),
        (node("Nested Loop", 90, 5, scan(rows=5), node("Index Scan", 8, 1)), 0, [("seq_scan_selective_filter", "index_idea", ("device_id",))]),
        (scan(rows=10, filter_=None, **{"Actual Rows": 40_000, "Actual Loops": 1}), 0, [("row_estimate_error", "advisory", ())]),
        (scan(rows=10, filter_=None, **{"Actual Rows": 20, "Actual Loops": 1}), 0, []),
        (None, 0, []),
    ],
)  # fmt: skip
def test_findings_of_a_plan(
    plan: dict[str, Any] | None, temp_blocks: int, expected: list[tuple[Any, ...]]
) -> None:
    findings = find_rule_findings(statement(plan, temp_blks_written=temp_blocks), THRESHOLDS)
    assert [(f.rule, f.kind, f.columns) for f in findings] == expected


def test_advice_states_its_confidence_and_risk_and_a_statement_to_try() -> None:
    plan = node("Sort", 12000, 100_000, scan(rows=100_000, filter_=None))
    [spill] = find_rule_findings(statement(plan, temp_blks_written=4096, calls=2), THRESHOLDS)
    assert (spill.confidence, spill.risk) == (0.6, "medium")
    assert spill.sql == "SET work_mem = '16MB';"  # 16 MB of temp files per call, rounded up
    assert "work_mem = 64kB" in spill.rationale


def test_a_small_table_is_left_to_its_sequential_scan() -> None:
    assert find_rule_findings(statement(scan(rows=1)), RuleThresholds(large_table_rows=1_000_000)) == []
