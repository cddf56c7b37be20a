"""What the dashboard does once signed in, over HTTP against a real metadata database: the calls its
scripts make answer, with every field the scripts read."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.integration.control_plane.api.conftest import PASSWORD, SeededTenant, bearer, register_database
from tests.integration.control_plane.api.snapshots import fingerprint
from tests.integration.control_plane.api.test_agent_findings import finding, post, snapshot_with

# The fields each view reads (see static/*.js): a renamed field would show up as a dash or blank.
DATABASE_FIELDS = {
    "id",
    "name",
    "agent_last_seen_at",
    "agent_version",
    "server_version",
    "agent_dropped_snapshots",
}
QUERY_FIELDS = {"fingerprint", "query", "calls", "total_exec_time_ms", "mean_exec_time_ms", "load_pct"}
DETAIL_FIELDS = {"fingerprint", "query", "series", "plan", "explanation", "recommendations"}
RECOMMENDATION_FIELDS = {
    "id", "database_id", "kind", "tier", "status", "sql", "rollback_sql", "improvement_pct",
    "measured_improvement_pct", "measured_verdict", "table", "columns", "rationale", "queries", "created_at",
    "lint", "status_reason", "approved_by", "approved_at", "applied_at", "rollback_available",
    "rollback_in_progress",
}  # fmt: skip
LINT_FIELDS = {"rule", "message", "help"}
ANALYSIS_RUN_FIELDS = {"id", "status", "notices", "summary", "error"}
EVIDENCE_FIELDS = {"fingerprint", "query", "calls", "cost_before", "cost_after"}


def sign_in(client: TestClient, email: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    pair = response.json()
    assert {"access_token", "refresh_token", "expires_in"} <= set(pair)
    return bearer(pair["access_token"])


def get(client: TestClient, path: str, headers: dict[str, str]) -> Any:
    response = client.get(f"/api/v1{path}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_an_admin_signs_in_lists_databases_and_sees_a_recommendation_with_its_evidence(
    client: TestClient, acme: SeededTenant
) -> None:
    database = register_database(client, acme)
    assert post(client, bearer(database["agent_token"]), snapshot_with(finding())) == 202
    admin = sign_in(client, acme.emails["admin"])

    assert client.get("/login").status_code == 200
    me = get(client, "/me", admin)
    assert (me["email"], me["role"]) == (acme.emails["admin"], "admin")
    (listed,) = get(client, "/databases", admin)
    assert set(listed) >= DATABASE_FIELDS
    queries = get(client, f"/databases/{listed['id']}/queries?order_by=total_time&limit=50", admin)
    assert queries and set(queries[0]) >= QUERY_FIELDS
    (recommendation,) = get(client, f"/databases/{listed['id']}/recommendations", admin)
    assert set(recommendation) >= RECOMMENDATION_FIELDS
    assert recommendation["tier"] == "verified"
    assert set(recommendation["queries"][0]) >= EVIDENCE_FIELDS
    detail = get(client, f"/databases/{listed['id']}/queries/{fingerprint(0)}", admin)
    assert set(detail) >= DETAIL_FIELDS
    assert [r["id"] for r in detail["recommendations"]] == [recommendation["id"]]
    assert get(client, "/audit?limit=200", admin)


def test_a_viewer_is_refused_what_the_dashboard_hides_from_viewers(
    client: TestClient, acme: SeededTenant
) -> None:
    database = register_database(client, acme)
    viewer = sign_in(client, acme.emails["viewer"])

    assert get(client, "/me", viewer)["role"] == "viewer"
    assert client.get("/api/v1/audit?limit=200", headers=viewer).status_code == 403
    assert client.post("/api/v1/databases", json={"name": "x"}, headers=viewer).status_code == 403
    rotated = client.post(f"/api/v1/databases/{database['id']}/agent-token", headers=viewer)
    assert rotated.status_code == 403


def test_a_stale_access_token_is_renewed_with_the_refresh_token_once(
    client: TestClient, acme: SeededTenant
) -> None:
    pair = client.post(
        "/api/v1/auth/login", json={"email": acme.emails["analyst"], "password": PASSWORD}
    ).json()

    renewed = client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    replayed = client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})

    assert renewed.status_code == 200
    assert replayed.status_code == 401  # why api.js shares one refresh among parallel requests
    assert get(client, "/me", bearer(renewed.json()["access_token"]))["role"] == "analyst"


def test_the_workflow_calls_answer_with_what_the_scripts_read(client: TestClient, acme: SeededTenant) -> None:
    database = register_database(client, acme)
    assert post(client, bearer(database["agent_token"]), snapshot_with(finding())) == 202
    admin = sign_in(client, acme.emails["admin"])
    (listed,) = get(client, f"/databases/{database['id']}/recommendations", admin)

    reviewed = get(client, f"/recommendations/{listed['id']}", admin)
    assert set(reviewed) >= RECOMMENDATION_FIELDS
    assert all(set(finding) >= LINT_FIELDS for finding in reviewed["lint"])
    approved = client.post(f"/api/v1/recommendations/{listed['id']}/approve", json={}, headers=admin)
    assert approved.status_code == 200, approved.text
    assert set(approved.json()) == {"recommendation", "job_id"}
    assert approved.json()["recommendation"]["status"] == "approved"

    accepted = client.post(f"/api/v1/databases/{database['id']}/analyze", headers=admin)
    assert accepted.status_code == 202, accepted.text
    assert set(accepted.json()) >= {"run_id", "status"}
    run = get(client, f"/databases/{database['id']}/analyses/{accepted.json()['run_id']}", admin)
    assert set(run) >= ANALYSIS_RUN_FIELDS

    assert get(client, f"/databases/{database['id']}/maintenance-window", admin) is None
