"""The allow-list: what of a model's answer may reach the agent, and the reason for everything else."""

from __future__ import annotations

from typing import Any

import pytest

from control_plane.analysis.llm.structured import Suggestion
from control_plane.analysis.validation import AcceptedSuggestion, validate_suggestion
from tests.unit.analysis.statements import EVENTS, scan, statement

ORIGINAL = "SELECT DISTINCT account_id FROM events WHERE account_id IN (SELECT account_id FROM events WHERE kind = $1)"


def suggestion(kind: str, **fields: Any) -> Suggestion:
    return Suggestion.model_validate(
        {"kind": kind, "rationale": "why", "confidence": 0.5, "risk": "low", **fields}
    )


@pytest.mark.parametrize(
    ("proposed", "verdict"),
    [
        (suggestion("create_index", table="public.events", columns=["device_id"]), "create_index"),
        (suggestion("create_index", table="events", columns=["device_id", "kind"]), "create_index"),
        (suggestion("create_index", table="events", columns=["device_id"], sql="CREATE INDEX ON events (device_id)"), "create_index"),
        (suggestion("create_index", table="public.orders", columns=["id"]), "table 'public.orders' does not exist"),
        (suggestion("create_index", table="events", columns=["nope"]), "column 'nope' does not exist"),
        (suggestion("create_index", table="events", columns=[]), "an index needs 1 to 8 columns"),
        (suggestion("create_index", table="events", columns=["id"], sql="DROP TABLE events"), "not on the allow-list"),
        (suggestion("rewrite", sql="SELECT DISTINCT account_id FROM events WHERE kind = $1"), "rewrite"),
        (suggestion("rewrite", sql="DROP TABLE public.events"), "not on the allow-list: not a read-only SELECT"),
        (suggestion("rewrite", sql="DELETE FROM events WHERE kind = $1"), "not on the allow-list"),
        (suggestion("rewrite", sql="SELECT 1; DROP TABLE events"), "not on the allow-list"),
        (suggestion("rewrite", sql="SELECT * FROM events FOR UPDATE"), "not on the allow-list"),
        (suggestion("rewrite", sql="SELECT account_id FROM events WHERE kind = $2"), "parameter the original does not have"),
        (suggestion("rewrite", sql="SELECT account_id FROM orders WHERE kind = $1"), "table 'orders' does not exist"),
        (suggestion("rewrite", sql="SELECT secret FROM events WHERE kind = $1"), "column 'secret' does not exist"),
        (suggestion("rewrite", sql=ORIGINAL), "the rewrite is the original statement"),
        (suggestion("rewrite"), "a rewrite needs its SQL"),
        (suggestion("config", sql="SET work_mem = '64MB'"), "advisory"),
        (suggestion("advisory", table="events"), "advisory"),
        (suggestion("config", sql="ALTER TABLE events DROP COLUMN kind"), "not on the allow-list"),
        (suggestion("advisory", table="ghosts"), "table 'ghosts' does not exist"),
    ],
)  # fmt: skip
def test_allow_list(proposed: Suggestion, verdict: str) -> None:
    context = statement(scan(), query=ORIGINAL)
    result = validate_suggestion(proposed, context, [EVENTS])
    if isinstance(result, AcceptedSuggestion):
        assert result.kind == verdict
    else:
        assert verdict in result


def test_a_rewrite_of_a_write_is_refused() -> None:
    context = statement(scan(), query="UPDATE events SET kind = $1 WHERE id = $2", statement_type="update")
    result = validate_suggestion(suggestion("rewrite", sql="SELECT 1"), context, [EVENTS])
    assert result == "only SELECT statements are rewritten"
