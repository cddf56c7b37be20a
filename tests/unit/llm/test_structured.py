"""parse_structured: untrusted model text becomes validated data or a Rejection, never an exception."""

from __future__ import annotations

import json

import pytest

from control_plane.analysis.llm import Rejection, SuggestionSet, parse_structured
from tests.unit.llm.conftest import VALID_SUGGESTIONS, VALID_TEXT


def test_plain_json_validates() -> None:
    parsed = parse_structured(VALID_TEXT, SuggestionSet)
    assert isinstance(parsed, SuggestionSet)
    assert parsed.explanation == "The filter column has no index."
    assert parsed.suggestions[0].risk == "low"


@pytest.mark.parametrize(
    "text",
    [
        f"```json\n{VALID_TEXT}\n```",
        f"```\n{VALID_TEXT}\n```",
        f"Here is the analysis:\n```JSON\n{VALID_TEXT}\n```\nLet me know.",
        f"Here is the analysis: {VALID_TEXT} Hope this helps.",
    ],
)
def test_json_is_found_inside_fences_and_prose(text: str) -> None:
    assert isinstance(parse_structured(text, SuggestionSet), SuggestionSet)


def test_minimal_suggestion_uses_defaults() -> None:
    text = json.dumps(
        {
            "suggestions": [
                {"kind": "advisory", "rationale": "Vacuum lag", "confidence": 0.4, "risk": "medium"}
            ]
        }
    )
    parsed = parse_structured(text, SuggestionSet)
    assert isinstance(parsed, SuggestionSet)
    assert parsed.suggestions[0].columns == []
    assert parsed.suggestions[0].table is None and parsed.explanation is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty response"),
        ("Add an index on orders.", "response is not JSON"),
        ('{"suggestions": [', "response is not valid JSON (Expecting value at position 17)"),
        ("[1, 2]", "expected a JSON object, got list"),
        ('"just a string"', "expected a JSON object, got str"),
    ],
)
def test_non_json_is_rejected_with_reason(text: str, reason: str) -> None:
    assert parse_structured(text, SuggestionSet) == Rejection(reason)


def test_out_of_range_and_unknown_values_are_rejected() -> None:
    bad = json.loads(VALID_TEXT)
    bad["suggestions"][0].update(confidence=1.7, kind="drop_table", risk="none")

    rejection = parse_structured(json.dumps(bad), SuggestionSet)

    assert isinstance(rejection, Rejection)
    assert rejection.reason.startswith("wrong shape for SuggestionSet: suggestions.0.kind: Input should be")
    assert "suggestions.0.confidence: Input should be less than or equal to 1" in rejection.reason
    assert "suggestions.0.risk" in rejection.reason


def test_rejection_reason_does_not_echo_model_output() -> None:
    bad = dict(VALID_SUGGESTIONS, suggestions="DROP TABLE orders")
    rejection = parse_structured(json.dumps(bad), SuggestionSet)
    assert isinstance(rejection, Rejection)
    assert "DROP TABLE" not in rejection.reason


def test_many_errors_are_summarised() -> None:
    items = [{"kind": "nope"} for _ in range(3)]
    rejection = parse_structured(json.dumps({"suggestions": items}), SuggestionSet)
    assert isinstance(rejection, Rejection)
    assert rejection.reason.endswith("more")
