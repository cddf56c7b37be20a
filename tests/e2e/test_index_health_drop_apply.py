"""Index health end to end (issue 13, must-show 3), over the HTTP API with the real agent and the
monitored PostgreSQL.

order_items carries an index nothing reads (`note`) and two identical ones on `order_id`. After the
agent's cycle, GET /databases/{id}/index-health lists the unused one (the agent's advisor judges it,
since only it reads how long index statistics have been counted: OPTISCHEMA_MIN_STATS_AGE_H, 7 days
in production, 0 here instead of a wait) and the duplicate (found from the schema alone), each with its
size, scans, reason and the drop_index recommendation. Both are approved; the agent runs each
`DROP INDEX CONCURRENTLY` (its allow-list admits it); the indexes are gone, the recommendations
`applied`, and on the next snapshot neither is listed any more, while the index that was kept is.
A dropped index's rollback rebuilds it, and it is listed again.

This test found that the daemon (`run`) ignored OPTISCHEMA_MIN_STATS_AGE_H (only `advise` read it):
no unused index was ever listed where statistics were younger than 7 days, as in the demo.
"""

from __future__ import annotations

import psycopg
import pytest

from tests.e2e.dashboard_flows import IndexHealthFindings, health_row
from tests.e2e.order_items import DUPLICATE_INDEX, DUPLICATED_INDEX, NO_MIN_STATS_AGE, UNUSED_INDEX

pytest_plugins = ("tests.e2e.dashboard_flows",)


def indexes_of_order_items(db: psycopg.Connection) -> set[str]:
    rows = db.execute(
        "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = 'order_items'::regclass"
    )
    return {str(row[0]) for row in rows.fetchall()}


@pytest.mark.slow
def test_unused_and_duplicate_indexes_are_listed_then_dropped_by_the_agent(
    index_health_shop: psycopg.Connection, index_health_findings: IndexHealthFindings
) -> None:
    dashboard = index_health_findings.dashboard
    unused, duplicate = index_health_findings.unused, index_health_findings.duplicate
    assert (unused["kind"], unused["table"], unused["scans"]) == ("unused", "public.order_items", 0)
    assert (duplicate["kind"], duplicate["table"]) == ("duplicate", "public.order_items")
    assert DUPLICATED_INDEX in duplicate["reason"]  # the one kept, named
    assert "0 scans" in unused["reason"]
    for row in (unused, duplicate):
        assert row["size_bytes"] > 0
        assert row["recommendation_id"] is not None
        drop = dashboard.recommendation(row["recommendation_id"])
        assert (drop["kind"], drop["status"]) == ("drop_index", "proposed")
        assert drop["sql"] == f"DROP INDEX CONCURRENTLY IF EXISTS {row['index']};"
        assert "approve" in drop["allowed_actions"]
    assert {UNUSED_INDEX, DUPLICATE_INDEX} <= indexes_of_order_items(index_health_shop)

    for row in (unused, duplicate):
        approved = dashboard.approve(row["recommendation_id"])
        assert approved.status_code == 200, approved.text
    dashboard.agent_once(OPTISCHEMA_ALLOW_APPLY="true", **NO_MIN_STATS_AGE)

    remaining = indexes_of_order_items(index_health_shop)
    assert not {UNUSED_INDEX, DUPLICATE_INDEX} & remaining
    assert DUPLICATED_INDEX in remaining  # its twin went, not it
    for row in (unused, duplicate):
        assert dashboard.recommendation(row["recommendation_id"])["status"] == "applied"

    dashboard.agent_once(**NO_MIN_STATS_AGE)  # the next snapshot: the schema without them
    rows = dashboard.index_health()
    assert health_row(rows, UNUSED_INDEX) is None
    assert health_row(rows, DUPLICATE_INDEX) is None
    # The survivor has no twin any more; with no scan either, it is now merely unused.
    survivor = health_row(rows, DUPLICATED_INDEX)
    assert survivor is not None and survivor["kind"] == "unused", rows


@pytest.mark.slow
def test_a_dropped_index_is_rebuilt_by_its_rollback(
    index_health_shop: psycopg.Connection, index_health_findings: IndexHealthFindings
) -> None:
    dashboard = index_health_findings.dashboard
    duplicate_id = index_health_findings.duplicate["recommendation_id"]
    approved = dashboard.approve(duplicate_id)
    assert approved.status_code == 200, approved.text
    dashboard.agent_once(OPTISCHEMA_ADVISE_EVERY_CYCLES="0", OPTISCHEMA_ALLOW_APPLY="true")
    assert DUPLICATE_INDEX not in indexes_of_order_items(index_health_shop)
    applied = dashboard.recommendation(duplicate_id)
    assert applied["status"] == "applied" and "rollback" in applied["allowed_actions"]

    with dashboard.api() as api:
        rolled = api.post(f"/recommendations/{duplicate_id}/rollback")
    assert rolled.status_code in (200, 202), rolled.text
    dashboard.agent_once(OPTISCHEMA_ADVISE_EVERY_CYCLES="0", OPTISCHEMA_ALLOW_APPLY="true")

    assert DUPLICATE_INDEX in indexes_of_order_items(index_health_shop)  # rebuilt, CONCURRENTLY
    assert dashboard.recommendation(duplicate_id)["status"] == "rolled_back"
    dashboard.agent_once(OPTISCHEMA_ADVISE_EVERY_CYCLES="0")  # a snapshot with the index back
    listed = health_row(dashboard.index_health(), DUPLICATE_INDEX)
    assert listed is not None, dashboard.index_health()
    # A duplicate again, linked to the same recommendation, which says it was rolled back.
    assert (listed["kind"], listed["recommendation_id"]) == ("duplicate", duplicate_id)
    assert listed["recommendation_status"] == "rolled_back"
