"""Another tenant's object is a 404 on every route that takes an id, generated from the app's routes."""

from __future__ import annotations

import re
import uuid

import psycopg
from fastapi.testclient import TestClient

from tests.integration.control_plane.api.conftest import SeededTenant, as_user, bearer, register_database
from tests.integration.control_plane.api.snapshots import as_json, fingerprint, make_snapshot
from tests.integration.control_plane.changes.flow import shop_with_finding
from tests.integration.control_plane.inbox import drain_inbox

# A valid body where a route needs one, so that validation cannot answer before the tenant check.
BODIES = {
    ("PATCH", "/api/v1/users/{user_id}"): {"role": "viewer"},
    ("POST", "/api/v1/databases/{database_id}/simulations"): {
        "candidates": [{"table": "public.orders", "columns": ["customer_id"]}],
        "fingerprints": [fingerprint(0)],
    },
    ("POST", "/api/v1/agent/jobs/{job_id}/result"): {"status": "failed", "error": "not yours"},
    ("PUT", "/api/v1/databases/{database_id}/maintenance-window"): {
        "days": ["mon"],
        "start": "01:00",
        "end": "02:00",
        "time_zone": "UTC",
    },
    ("POST", "/api/v1/recommendations/{recommendation_id}/approve"): {},
    ("POST", "/api/v1/recommendations/{recommendation_id}/reject"): {"reason": "not yours"},
    ("POST", "/api/v1/databases/{database_id}/analyze"): {},
}


def seed_webhook(metadata_url: str, tenant: SeededTenant) -> str:
    """Stored directly: creating one over HTTP resolves its host, which a sandbox cannot."""
    webhook_id = uuid.uuid4()
    with psycopg.connect(metadata_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO webhooks (tenant_id, id, url, kind, events, min_improvement_pct, secret_encrypted,"
            " created_by) VALUES (%s, %s, 'https://hooks.example.com/x', 'generic', '{apply_result}', 50,"
            " 'x', 'test')",
            [tenant.id, webhook_id],
        )
    return str(webhook_id)


def routes_with_ids(client: TestClient) -> list[tuple[str, str]]:
    """Every (method, path template) of the API that takes an id, from the app's own OpenAPI routes."""
    paths = client.get("/openapi.json").json()["paths"]
    return sorted(
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith("/api/v1/") and "{" in path
        for method in operations
    )


def test_every_route_with_an_id_answers_404_to_another_tenant_and_changes_nothing(
    client: TestClient, acme: SeededTenant, globex: SeededTenant, metadata_url: str
) -> None:
    shop = shop_with_finding(client, acme)
    database = {"id": shop.database_id}
    agent = shop.agent
    assert (
        client.post("/api/v1/agent/snapshots", json=as_json(make_snapshot()), headers=agent).status_code
        == 202
    )
    drain_inbox(client)
    acme_admin = as_user(client, acme, "admin")
    simulation = BODIES[("POST", "/api/v1/databases/{database_id}/simulations")]
    job = client.post(f"/api/v1/databases/{database['id']}/simulations", json=simulation, headers=acme_admin)
    assert job.status_code == 202, job.text
    analysis = client.post(f"/api/v1/databases/{database['id']}/analyze", json={}, headers=acme_admin)
    assert analysis.status_code == 202, analysis.text
    ids = {
        "database_id": database["id"],
        "user_id": str(acme.users["admin"]),
        "fingerprint": fingerprint(0),
        "job_id": job.json()["job_id"],
        "recommendation_id": shop.recommendation_id,
        "webhook_id": seed_webhook(metadata_url, acme),
        "run_id": analysis.json()["run_id"],
    }
    audit_before = client.get("/api/v1/audit", headers=acme_admin).json()
    intruder = as_user(client, globex, "admin")
    # Agent routes take an agent token: the intruder there is another tenant's agent.
    intruder_agent = bearer(register_database(client, globex, "globex-db")["agent_token"])

    routes = routes_with_ids(client)
    answers = {}
    for method, template in routes:
        path = re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], template)
        headers = intruder_agent if template.startswith("/api/v1/agent/") else intruder
        response = client.request(method, path, headers=headers, json=BODIES.get((method, template)))
        answers[(method, template)] = response.status_code

    assert len(routes) >= 6, routes  # the matrix must actually cover the id routes
    assert {key: code for key, code in answers.items() if code != 404} == {}
    assert [d["id"] for d in client.get("/api/v1/databases", headers=acme_admin).json()] == [database["id"]]
    assert (
        client.post("/api/v1/agent/heartbeat", json={"agent_version": "1"}, headers=agent).status_code == 204
    )
    assert client.get("/api/v1/me", headers=acme_admin).json()["role"] == "admin"
    job_after = client.get(f"/api/v1/databases/{database['id']}/jobs/{ids['job_id']}", headers=acme_admin)
    assert job_after.json()["status"] == "queued"
    recommendation = client.get(f"/api/v1/recommendations/{shop.recommendation_id}", headers=acme_admin)
    assert recommendation.json()["status"] == "proposed"
    assert [w["id"] for w in client.get("/api/v1/webhooks", headers=acme_admin).json()] == [ids["webhook_id"]]
    audit_after = client.get("/api/v1/audit", headers=acme_admin).json()
    assert [e for e in audit_after if e not in audit_before and e["action"] != "auth.login"] == []


def test_lists_never_contain_another_tenants_rows(
    client: TestClient, acme: SeededTenant, globex: SeededTenant
) -> None:
    register_database(client, acme, "acme-db")
    register_database(client, globex, "globex-db")

    acme_view = client.get("/api/v1/databases", headers=as_user(client, acme, "viewer")).json()
    globex_audit = client.get("/api/v1/audit", headers=as_user(client, globex, "admin")).json()

    assert [d["name"] for d in acme_view] == ["acme-db"]
    assert all(str(acme.users["admin"]) not in e["actor"] for e in globex_audit)
    assert all("acme" not in str(e["detail"]) for e in globex_audit)
