"""The agent's own advice arrives with its snapshot (version 2) and becomes recommendations at once."""

from __future__ import annotations

from typing import Any

import psycopg
from fastapi.testclient import TestClient

from shared.wire.advice import AdviceReport, QueryEvidence, Recommendation, SkippedStatement
from tests.integration.control_plane.api.conftest import SeededTenant, as_user, bearer, register_database
from tests.integration.control_plane.api.snapshots import as_json, fingerprint, make_snapshot, without_texts
from tests.integration.control_plane.inbox import drain_inbox

INDEX_SQL = "CREATE INDEX CONCURRENTLY orders_customer_id_status_idx ON public.orders (customer_id, status);"


def finding(improvement: float = 99.9, sql: str = INDEX_SQL) -> Recommendation:
    return Recommendation(
        id="create_index:public.orders(customer_id,status)",
        kind="create_index",
        tier="verified",
        sql=sql,
        rollback_sql="DROP INDEX CONCURRENTLY IF EXISTS public.orders_customer_id_status_idx;",
        table="public.orders",
        columns=["customer_id", "status"],
        improvement_pct=improvement,
        queries=[
            QueryEvidence(
                fingerprint=fingerprint(0),
                query="SELECT * FROM orders WHERE customer_id = $1",
                calls=20,
                cost_before=8291.1,
                cost_after=8.07,
            )
        ],
        rationale="HypoPG: the planner uses the index for both statements and their cost drops 99.9%.",
    )


def snapshot_with(*findings: Recommendation) -> dict[str, Any]:
    report = AdviceReport(
        server_version="15.20",
        hypopg=True,
        statements_analyzed=3,
        recommendations=list(findings),
        skipped=[SkippedStatement(fingerprint=fingerprint(2), reason="already served by an index")],
    )
    return as_json(make_snapshot().model_copy(update={"findings": report}))


def post(client: TestClient, agent: dict[str, str], body: dict[str, Any]) -> int:
    status = client.post("/api/v1/agent/snapshots", json=body, headers=agent).status_code
    drain_inbox(client)
    return status


def recommendations(client: TestClient, tenant: SeededTenant, database_id: str, query: str = "") -> Any:
    response = client.get(
        f"/api/v1/databases/{database_id}/recommendations{query}", headers=as_user(client, tenant, "viewer")
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_findings_appear_as_verified_recommendations_and_in_the_query_detail(
    client: TestClient, acme: SeededTenant
) -> None:
    database = register_database(client, acme)

    assert post(client, bearer(database["agent_token"]), snapshot_with(finding())) == 202

    (listed,) = recommendations(client, acme, database["id"])
    assert {
        key: listed[key] for key in ("kind", "tier", "status", "sql", "table", "columns", "improvement_pct")
    } == {
        "kind": "create_index",
        "tier": "verified",
        "status": "proposed",
        "sql": INDEX_SQL,
        "table": "public.orders",
        "columns": ["customer_id", "status"],
        "improvement_pct": 99.9,
    }
    assert listed["rollback_sql"].startswith("DROP INDEX") and listed["rationale"].startswith("HypoPG")
    assert listed["measured_improvement_pct"] is None and listed["created_at"]
    assert listed["queries"][0]["cost_after"] == 8.07
    detail = client.get(
        f"/api/v1/databases/{database['id']}/queries/{fingerprint(0)}",
        headers=as_user(client, acme, "viewer"),
    ).json()
    assert [r["id"] for r in detail["recommendations"]] == [listed["id"]]
    other = client.get(
        f"/api/v1/databases/{database['id']}/queries/{fingerprint(1)}",
        headers=as_user(client, acme, "viewer"),
    ).json()
    assert other["recommendations"] == []


def test_the_same_finding_reported_again_is_refreshed_not_duplicated(
    client: TestClient, acme: SeededTenant
) -> None:
    database = register_database(client, acme)
    agent = bearer(database["agent_token"])

    post(client, agent, snapshot_with(finding(improvement=90.0)))
    (first,) = recommendations(client, acme, database["id"])
    post(client, agent, snapshot_with(finding(improvement=99.9), finding(improvement=99.9)))

    (again,) = recommendations(client, acme, database["id"])
    assert again["id"] == first["id"]
    assert again["improvement_pct"] == 99.9


def test_a_recommendation_people_acted_on_is_not_changed_by_later_findings(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    database = register_database(client, acme)
    agent = bearer(database["agent_token"])
    post(client, agent, snapshot_with(finding()))
    with psycopg.connect(metadata_url, autocommit=True) as conn:
        conn.execute("UPDATE recommendations SET status = 'approved'")

    post(client, agent, snapshot_with(finding(improvement=50.0, sql="CREATE INDEX something_else ON t (c);")))

    (kept,) = recommendations(client, acme, database["id"])
    assert (kept["status"], kept["sql"], kept["improvement_pct"]) == ("approved", INDEX_SQL, 99.9)
    assert recommendations(client, acme, database["id"], "?status=proposed") == []
    assert len(recommendations(client, acme, database["id"], "?status=approved")) == 1
    unknown = client.get(
        f"/api/v1/databases/{database['id']}/recommendations?status=maybe",
        headers=as_user(client, acme, "viewer"),
    )
    assert unknown.status_code == 422


def test_snapshot_versions_2_and_3_are_accepted_and_1_and_4_are_not(
    client: TestClient, acme: SeededTenant
) -> None:
    agent = bearer(register_database(client, acme)["agent_token"])
    version_2 = {**snapshot_with(finding()), "schema_version": 2}
    version_1 = {**as_json(make_snapshot()), "schema_version": 1}
    del version_1["findings"]
    version_4 = {**as_json(make_snapshot()), "schema_version": 4}

    assert post(client, agent, version_2) == 202
    assert post(client, agent, snapshot_with(finding())) == 202
    for unsupported in (version_1, version_4):
        refused = client.post("/api/v1/agent/snapshots", json=unsupported, headers=agent)
        assert refused.status_code == 422
        assert refused.json()["detail"]["code"] == "unsupported_schema_version"
        assert "accepts 2, 3" in refused.json()["detail"]["message"]


def test_a_version_3_statement_may_leave_its_text_out_and_a_version_2_one_may_not(
    client: TestClient, acme: SeededTenant
) -> None:
    agent = bearer(register_database(client, acme)["agent_token"])
    snapshot = make_snapshot()
    textless = without_texts(snapshot, *range(len(snapshot.statements)))

    assert post(client, agent, textless) == 202
    version_2 = {**without_texts(make_snapshot(), 1), "schema_version": 2}
    refused = client.post("/api/v1/agent/snapshots", json=version_2, headers=agent)
    assert refused.status_code == 422, refused.text
    assert "statements.1.query is required in a version 2 snapshot" in refused.json()["detail"]["message"]


def test_heartbeats_report_the_agents_spool(client: TestClient, acme: SeededTenant) -> None:
    database = register_database(client, acme)
    agent = bearer(database["agent_token"])

    for spooled, dropped in ((5, 2), (3, 1)):
        beat = {"agent_version": "1.0", "spooled_snapshots": spooled, "dropped_snapshots": dropped}
        assert client.post("/api/v1/agent/heartbeat", json=beat, headers=agent).status_code == 204

    (listed,) = client.get("/api/v1/databases", headers=as_user(client, acme, "viewer")).json()
    assert (listed["agent_spooled_snapshots"], listed["agent_dropped_snapshots"]) == (3, 3)
