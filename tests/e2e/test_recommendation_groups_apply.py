"""Overlapping index ideas for one statement reconcile (issue 13, must-show 2), over the HTTP API with
the real agent and the monitored PostgreSQL.

The busy statement is `SELECT product_id, quantity, order_id FROM order_items WHERE product_id = $1`.
Two parts of the product propose an index for it, each in its own way, as in the demo: the agent's
advisor (HypoPG, whole workload) finds one, the narrow `(product_id)` on this server; the control
plane's analysis asks the model (mocked with respx, the only mock), which proposes the other, the
covering `(product_id, quantity, order_id)`, and the agent proves it with HypoPG before it is shown.
The advisor alone never yields both (it keeps no two indexes that are prefixes of each other), and
the analysis' rules propose only the narrow one, already recommended: hence the model.

Both are listed as one group; the admin approves the covering one; the agent leases, verifies and
builds it; then the narrow one is `superseded` by it, offers no `approve`, and approving it anyway
is a 409 that says why.
"""

from __future__ import annotations

import psycopg
import pytest

from tests.e2e.dashboard_flows import OverlappingIndexes
from tests.e2e.order_items import COVERING_KEYS, NARROW_KEYS

pytest_plugins = ("tests.e2e.dashboard_flows",)


def valid_index(db: psycopg.Connection, keys: list[str]) -> list[tuple[str, bool]]:
    """(name, indisvalid) of the order_items indexes whose keys are exactly `keys`."""
    rows = db.execute(
        """SELECT c.relname, i.indisvalid,
                  array(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY k(attnum, n)
                         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                        ORDER BY k.n)
             FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = 'order_items'::regclass"""
    ).fetchall()
    return [(str(name), bool(valid)) for name, valid, columns in rows if list(columns) == keys]


@pytest.mark.slow
def test_covering_index_applied_supersedes_the_narrow_one(
    order_items_shop: psycopg.Connection, overlapping_indexes: OverlappingIndexes
) -> None:
    dashboard = overlapping_indexes.dashboard
    narrow = dashboard.recommendation(overlapping_indexes.narrow_id)
    covering = dashboard.recommendation(overlapping_indexes.covering_id)
    # Two alternatives for the same statement, shown as one group, both still open.
    assert narrow["group"] == covering["group"] == "public.order_items(product_id)"
    assert {r["status"] for r in (narrow, covering)} == {"proposed"}
    assert {r["tier"] for r in (narrow, covering)} == {"verified"}
    assert {narrow["source"], covering["source"]} == {"agent", "llm"}  # one from each
    assert set(narrow["queries"][0]) >= {"fingerprint"}
    assert {q["fingerprint"] for q in narrow["queries"]} == {q["fingerprint"] for q in covering["queries"]}
    assert "approve" in narrow["allowed_actions"] and "approve" in covering["allowed_actions"]

    approved = dashboard.approve(covering["id"])
    assert approved.status_code == 200, approved.text
    assert valid_index(order_items_shop, COVERING_KEYS) == []  # approval alone builds nothing
    dashboard.agent_once(OPTISCHEMA_ADVISE_EVERY_CYCLES="0", OPTISCHEMA_ALLOW_APPLY="true")

    [(_, valid)] = valid_index(order_items_shop, COVERING_KEYS)
    assert valid  # built by the agent, CONCURRENTLY, and valid
    assert valid_index(order_items_shop, NARROW_KEYS) == []
    assert dashboard.recommendation(covering["id"])["status"] == "applied"
    superseded = dashboard.recommendation(narrow["id"])
    assert (superseded["status"], superseded["superseded_by"]) == ("superseded", covering["id"])
    assert "approve" not in superseded["allowed_actions"]
    assert superseded["group"] == covering["group"]

    refused = dashboard.approve(narrow["id"])
    assert refused.status_code == 409, refused.text
    detail = refused.json()["detail"]
    assert "superseded" in detail and covering["id"] in detail and "redundant" in detail
    assert "public.order_items (product_id, quantity, order_id)" in detail  # which index, by name
    assert dashboard.recommendation(narrow["id"])["status"] == "superseded"
    assert valid_index(order_items_shop, NARROW_KEYS) == []  # nothing was queued for it
    # Its card's timeline: proposed, then superseded, pointing at the index that was applied.
    timeline = dashboard.get(f"/recommendations/{narrow['id']}")["timeline"]
    assert [entry["action"] for entry in timeline] == ["proposed", "superseded"], timeline
    assert timeline[-1]["detail"]["related_recommendation_id"] == covering["id"]
    with dashboard.viewer_api() as viewer:
        seen = viewer.get(f"/databases/{dashboard.database_id}/recommendations?status=superseded")
    assert [(r["id"], r["allowed_actions"]) for r in seen.json()] == [(narrow["id"], [])]


@pytest.mark.slow
def test_rolling_back_the_covering_index_reopens_the_narrow_one(
    order_items_shop: psycopg.Connection, covering_index_applied: OverlappingIndexes
) -> None:
    dashboard = covering_index_applied.dashboard
    narrow_id, covering_id = covering_index_applied.narrow_id, covering_index_applied.covering_id
    assert dashboard.recommendation(narrow_id)["status"] == "superseded"

    with dashboard.api() as api:
        rolled = api.post(f"/recommendations/{covering_id}/rollback")
    assert rolled.status_code in (200, 202), rolled.text
    dashboard.agent_once(OPTISCHEMA_ADVISE_EVERY_CYCLES="0", OPTISCHEMA_ALLOW_APPLY="true")

    assert valid_index(order_items_shop, COVERING_KEYS) == []
    assert dashboard.recommendation(covering_id)["status"] == "rolled_back"
    reopened = dashboard.recommendation(narrow_id)
    assert (reopened["status"], reopened["superseded_by"]) == ("proposed", None)
    assert "approve" in reopened["allowed_actions"]  # the narrow index is useful again
