"""A snapshot's NUL check runs once over its JSON text; what it lets through holds no NUL."""

from __future__ import annotations

import json

import pytest

from control_plane.ingestion.payload import PayloadRejected, parse_snapshot
from shared.wire.base import json_holds_nul
from tests.integration.control_plane.api.snapshots import as_json, make_snapshot


@pytest.mark.parametrize(
    ("text", "holds"),
    [
        ("plain", False),
        ("a\x00b", True),
        ("\\u0000", False),  # a backslash, then the letters u0000
        ("\\\x00", True),  # a backslash, then NUL
        ("x\\\\u0000", False),
    ],
)
def test_the_json_text_check_finds_exactly_the_strings_holding_nul(text: str, holds: bool) -> None:
    assert json_holds_nul(json.dumps({"key": text}).encode()) is holds
    assert json_holds_nul(json.dumps({text: 1}).encode()) is holds


def test_a_snapshot_with_nul_anywhere_is_refused_and_one_without_is_accepted() -> None:
    document = as_json(make_snapshot(statements=2))
    assert parse_snapshot(json.dumps(document).encode()).statements
    document["statements"][1]["query"] = "SELECT 1 -- \x00"

    with pytest.raises(PayloadRejected) as refused:
        parse_snapshot(json.dumps(document).encode())

    assert refused.value.status_code == 422 and "NUL" in refused.value.message
