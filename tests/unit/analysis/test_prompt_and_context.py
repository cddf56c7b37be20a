"""The prompt carries the whole anonymized context and never a literal; its cache key ignores
what does not change the advice."""

from __future__ import annotations

import dataclasses
import json

from control_plane.analysis.context import WorkloadFigures
from control_plane.analysis.explanation import deterministic_explanation
from control_plane.analysis.plan_nodes import scrub_literals
from control_plane.analysis.prompt import build_request
from tests.unit.analysis.statements import node, scan, statement

LEAKY_FILTER = "((email = 'jane@example.com'::text) AND (amount > 4242.5) AND (device_id = $1))"


def test_the_request_carries_the_context_a_dba_would_ask_for() -> None:
    request = build_request(statement(scan(), temp_blks_written=12))
    document = json.loads(request.user.split("\n", 1)[1])
    assert document["query"] == "SELECT id, kind FROM events WHERE device_id = $1"
    assert document["workload"]["calls"] == 40
    assert document["workload"]["share_of_load_pct"] == 30.0
    assert document["workload"]["temp_blocks_written"] == 12
    assert document["plan"][0]["node"] == "Seq Scan on public.events"
    [table] = document["tables"]
    assert table["estimated_rows"] == 100000
    assert {"name": "device_id", "type": "integer", "n_distinct": 1009, "null_frac": None} in table["columns"]
    assert table["indexes"][0]["name"] == "events_pkey"
    assert document["settings"] == {"work_mem": "64kB"}
    assert "JSON" in request.system and "JSON" in request.user


def test_no_literal_reaches_the_request_body_even_if_a_plan_kept_one() -> None:
    context = statement(
        scan(filter_=LEAKY_FILTER), query="SELECT * FROM events WHERE note = 'private note' AND id = 77"
    )
    request = build_request(context)
    body = request.system + request.user
    for literal in ("jane@example.com", "4242", "private note", "77"):
        assert literal not in body
    assert "device_id = $1" in body


def test_scrub_keeps_placeholders_and_identifiers() -> None:
    assert (
        scrub_literals("(t1.a = $12) AND (b > 3.5) AND (c = 'x''y')")
        == "(t1.a = $12) AND (b > ?) AND (c = '?')"
    )


def test_the_cache_key_ignores_busier_workload_but_not_a_changed_plan() -> None:
    context = statement(scan())
    busier = dataclasses.replace(context, workload=WorkloadFigures(calls=4000, total_ms=9e5, load_pct=80.0))
    replanned = statement(scan(rows=5000))
    assert busier.context_hash() == context.context_hash()
    assert replanned.context_hash() != context.context_hash()


def test_the_deterministic_explanation_names_the_costliest_nodes() -> None:
    plan = node("Sort", 12000.0, 100_000, scan(rows=100_000, filter_=None), **{"Sort Key": ["kind"]})
    text = deterministic_explanation(statement(plan, temp_blks_written=1280))
    assert text.startswith("Called 40 times, 10.00 ms on average, 30.0%")
    assert "Sort produces ~100,000 rows, costing 10,307.0 (86% of the plan's cost)" in text
    assert "Seq Scan on public.events" in text
    assert "10.0 MB of temporary files" in text
