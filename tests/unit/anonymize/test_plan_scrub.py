"""EXPLAIN (FORMAT JSON) scrubbing: plan structure stays, constants in expressions go."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.anonymize.plan import scrub_plan
from shared.sql.normalized_text import split_segments


def plan_with(**fields: object) -> list[dict[str, object]]:
    return [{"Plan": {"Node Type": "Seq Scan", "Relation Name": "users", **fields}}]


def scrubbed_node(**fields: object) -> dict[str, object]:
    result = scrub_plan(plan_with(**fields))
    assert isinstance(result, list)
    plan = result[0]["Plan"]
    assert isinstance(plan, dict)
    return plan


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("Filter", "(email = 'a@b.c'::text)", "(email = ?::text)"),
        ("Filter", "((note)::text = 'it''s'::text)", "((note)::text = ?::text)"),
        ("Filter", "(note = E'back\\\\slash \\' quote'::text)", "(note = ?::text)"),
        ("Filter", "(amount > 100.5)", "(amount > ?)"),
        ("Filter", "(amount > '-1'::integer)", "(amount > ?::integer)"),
        ("Filter", "((col1 = 42) AND (t2.x < 1e-3))", "((col1 = ?) AND (t2.x < ?))"),
        ("Filter", "(id = ANY ('{1,2,3}'::integer[]))", "(id = ANY (?::integer[]))"),
        ("Filter", "(id = $1)", "(id = $1)"),
        ("Filter", '("Weird ""1"" col" = 7)', '("Weird ""1"" col" = ?)'),
        ("Filter", "(a = (SubPlan 1))", "(a = (SubPlan 1))"),
        ("Index Cond", "(id = 42)", "(id = ?)"),
        ("Recheck Cond", "(name ~~ 'abc%'::text)", "(name ~~ ?::text)"),
        ("Hash Cond", "(o.customer_id = c.id)", "(o.customer_id = c.id)"),
        ("Join Filter", "(o.total > (c.limit * 2))", "(o.total > (c.limit * ?))"),
        ("One-Time Filter", "('x'::text = 'y'::text)", "(?::text = ?::text)"),
        ("Some Future Key", "(secret = 'x')", "(secret = ?)"),
        ("Filter", "(note = $$dollar$$)", None),
        ("Filter", "(note = 'unterminated", None),
    ],
)
def test_scrub_plan_replaces_constants_in_expressions(key: str, value: str, expected: str | None) -> None:
    assert scrubbed_node(**{key: value})[key] == expected


@pytest.mark.parametrize(
    ("key", "items", "expected"),
    [
        ("Output", ["u.id", "'secret'::text", "(u.age + 1)"], ["u.id", "?::text", "(u.age + ?)"]),
        ("Sort Key", ["u.name", "(lower(u.email))"], ["u.name", "(lower(u.email))"]),
        ("Group Key", ["(date_trunc('day'::text, u.created_at))"], ["(date_trunc(?::text, u.created_at))"]),
    ],
)
def test_scrub_plan_scrubs_lists_item_by_item(key: str, items: list[str], expected: list[str]) -> None:
    assert scrubbed_node(**{key: items})[key] == expected


def test_scrub_plan_keeps_structure_names_and_numbers() -> None:
    plan = [
        {
            "Plan": {
                "Node Type": "Nested Loop",
                "Parallel Aware": False,
                "Join Type": "Inner",
                "Startup Cost": 0.29,
                "Total Cost": 16.34,
                "Plan Rows": 1,
                "Plans": [
                    {
                        "Node Type": "Index Scan",
                        "Parent Relationship": "Outer",
                        "Scan Direction": "Forward",
                        "Index Name": "orders_2024_idx",
                        "Relation Name": "orders_2024",
                        "Schema": "public",
                        "Alias": "o1",
                        "Index Cond": "(id = 7)",
                    },
                    {"Node Type": "CTE Scan", "CTE Name": "recent_7", "Subplan Name": "CTE recent_7"},
                ],
            },
            "Planning Time": 0.1,
            "Triggers": [],
        }
    ]
    result = scrub_plan(plan)
    expected = copy.deepcopy(plan)
    expected[0]["Plan"]["Plans"][0]["Index Cond"] = "(id = ?)"  # type: ignore[index]
    assert result == expected


def test_scrub_plan_accepts_the_bare_dict_form() -> None:
    assert scrub_plan({"Plan": {"Node Type": "Result", "Output": ["42"]}}) == {
        "Plan": {"Node Type": "Result", "Output": ["?"]}
    }


def test_scrub_plan_does_not_mutate_its_input() -> None:
    plan = plan_with(Filter="(email = 'a@b.c'::text)", Output=["'x'::text"])
    before = copy.deepcopy(plan)
    scrub_plan(plan)
    assert plan == before


def test_scrub_plan_drops_values_that_are_not_json() -> None:
    assert scrubbed_node(Filter=object()) == {
        "Node Type": "Seq Scan",
        "Relation Name": "users",
        "Filter": None,
    }


def no_quoted_constant(text: object) -> bool:
    return text is None or (
        isinstance(text, str)
        and all(segment.kind in ("code", "identifier") for segment in split_segments(text))
    )


@settings(max_examples=300, deadline=None)
@given(st.text(), st.sampled_from(["standard", "escape"]))
def test_scrub_plan_never_keeps_a_quoted_constant(secret: str, spelling: str) -> None:
    if spelling == "escape":
        literal = "E'" + secret.replace("\\", "\\\\").replace("'", "\\'") + "'"
    else:
        literal = "'" + secret.replace("'", "''") + "'"
    node = scrubbed_node(
        **{
            "Filter": f"((email)::text = {literal}::text)",
            "Output": [literal],
            "Index Cond": f"(id = {literal})",
        }
    )
    scrubbed = {"Filter": "((email)::text = ?::text)", "Output": "?", "Index Cond": "(id = ?)"}
    for key, clean in scrubbed.items():
        value = node[key][0] if key == "Output" else node[key]  # type: ignore[index]
        assert no_quoted_constant(value)
        assert value in (None, clean)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_scrub_plan_never_returns_a_quoted_constant_from_arbitrary_text(text: str) -> None:
    assert no_quoted_constant(scrubbed_node(Filter=text)["Filter"])
