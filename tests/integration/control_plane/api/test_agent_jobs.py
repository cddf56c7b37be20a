"""Jobs over HTTP: people queue simulations, the agent leases them signed and answers each once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from control_plane.app import create_app
from shared.job_signing import b64url_decode, load_job, verify_key_set, verify_signature
from shared.wire.jobs import JobBody, JobsResponse, SignedJob, SigningKeySet
from tests.integration.control_plane.api.conftest import (
    SeededTenant,
    as_user,
    bearer,
    register_database,
    settings_for,
)
from tests.integration.control_plane.api.snapshots import fingerprint

SIMULATION = {
    "candidates": [{"table": "public.orders", "columns": ["customer_id", "status"]}],
    "fingerprints": [fingerprint(0), fingerprint(1)],
}
SIMULATED = {
    "statements": [
        {"fingerprint": fingerprint(0), "cost_before": 8291.1, "cost_after": 8.07},
        {"fingerprint": fingerprint(1), "cost_before": 100.0, "cost_after": None, "error": "does not plan"},
    ],
    "improvement_pct": 99.9,
    "indexes": [{"table": "public.orders", "columns": ["customer_id", "status"], "size_bytes": 8192}],
}


@pytest.fixture
def two_attempts(metadata_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(metadata_url, job_max_attempts=2))) as test_client:
        yield test_client


def queue(
    client: TestClient, tenant: SeededTenant, database_id: str, body: dict[str, Any] | None = None
) -> str:
    response = client.post(
        f"/api/v1/databases/{database_id}/simulations",
        json=body or SIMULATION,
        headers=as_user(client, tenant, "analyst"),
    )
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "queued"
    job_id: str = response.json()["job_id"]
    return job_id


def lease(client: TestClient, agent: dict[str, str]) -> list[SignedJob]:
    response = client.get("/api/v1/agent/jobs", headers=agent)
    assert response.status_code == 200, response.text
    return list(JobsResponse.model_validate(response.json()).jobs)


def published_keys(client: TestClient, agent: dict[str, str]) -> SigningKeySet:
    response = client.get("/api/v1/agent/signing-keys", headers=agent)
    assert response.status_code == 200, response.text
    return SigningKeySet.model_validate(response.json())


def verified(client: TestClient, agent: dict[str, str], signed: SignedJob) -> JobBody:
    keys = {key.key_id: b64url_decode(key.public_key) for key in published_keys(client, agent).keys}
    assert verify_signature(keys[signed.key_id], signed)
    return load_job(signed)


def job(client: TestClient, tenant: SeededTenant, database_id: str, job_id: str) -> dict[str, Any]:
    response = client.get(
        f"/api/v1/databases/{database_id}/jobs/{job_id}", headers=as_user(client, tenant, "viewer")
    )
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def run_sql(metadata_url: str, statement: str, *parameters: object) -> None:
    with psycopg.connect(metadata_url, autocommit=True) as conn:
        conn.execute(statement.encode(), parameters)


def test_a_simulation_is_leased_signed_answered_once_and_read_back(
    client: TestClient, acme: SeededTenant
) -> None:
    database = register_database(client, acme)
    agent = bearer(database["agent_token"])
    job_id = queue(client, acme, database["id"])

    leased = lease(client, agent)
    body = verified(client, agent, leased[0])
    answered = client.post(
        f"/api/v1/agent/jobs/{job_id}/result",
        json={"status": "succeeded", "result": SIMULATED},
        headers=agent,
    )
    again = client.post(f"/api/v1/agent/jobs/{job_id}/result", json={"status": "failed"}, headers=agent)

    assert len(leased) == 1
    assert (str(body.id), str(body.database_id), body.kind, body.attempt) == (
        job_id,
        database["id"],
        "simulate_indexes",
        1,
    )
    candidate = {
        "table": "public.orders",
        "columns": ["customer_id", "status"],
        "where": None,
        "using": "btree",
    }
    assert body.payload == {"candidates": [candidate], "fingerprints": SIMULATION["fingerprints"]}
    assert timedelta(0) < body.expires_at - body.issued_at <= timedelta(seconds=300)
    assert lease(client, agent) == []  # leased: not handed out twice
    assert answered.status_code == 200 and answered.json()["status"] == "succeeded"
    assert again.status_code == 409 and "not waiting for a result" in again.json()["detail"]
    read = job(client, acme, database["id"], job_id)
    assert (read["status"], read["attempts"], read["error"]) == ("succeeded", 1, None)
    assert read["result"]["improvement_pct"] == 99.9 and read["finished_at"] is not None


def test_a_result_for_another_databases_job_or_an_unknown_job_is_404(
    client: TestClient, acme: SeededTenant
) -> None:
    shop, crm = register_database(client, acme, "shop"), register_database(client, acme, "crm")
    job_id = queue(client, acme, shop["id"])
    lease(client, bearer(shop["agent_token"]))
    crm_agent = bearer(crm["agent_token"])

    for target in (job_id, str(uuid.uuid4())):
        answer = client.post(
            f"/api/v1/agent/jobs/{target}/result",
            json={"status": "succeeded", "result": SIMULATED},
            headers=crm_agent,
        )
        assert answer.status_code == 404, target
    assert lease(client, crm_agent) == []  # nor is it handed to the other database's agent
    assert job(client, acme, shop["id"], job_id)["status"] == "leased"


def test_refusals_and_failures_are_stored_with_their_reason(client: TestClient, acme: SeededTenant) -> None:
    database = register_database(client, acme)
    agent = bearer(database["agent_token"])
    refused_id, failed_id = queue(client, acme, database["id"]), queue(client, acme, database["id"])
    lease(client, agent)

    for job_id, answer in (
        (refused_id, {"status": "refused", "error": "apply is disabled"}),
        (failed_id, {"status": "failed", "error": "HypoPG is not installed"}),
    ):
        assert (
            client.post(f"/api/v1/agent/jobs/{job_id}/result", json=answer, headers=agent).status_code == 200
        )

    refused, failed = (job(client, acme, database["id"], j) for j in (refused_id, failed_id))
    assert (refused["status"], refused["error"]) == ("failed", "refused by the agent: apply is disabled")
    assert (failed["status"], failed["error"]) == ("failed", "HypoPG is not installed")


def test_a_success_whose_result_does_not_fit_its_kind_is_rejected_and_not_recorded(
    client: TestClient, acme: SeededTenant
) -> None:
    database = register_database(client, acme)
    agent = bearer(database["agent_token"])
    job_id = queue(client, acme, database["id"])
    lease(client, agent)

    answer = client.post(
        f"/api/v1/agent/jobs/{job_id}/result",
        json={"status": "succeeded", "result": {"cost": 1}},
        headers=agent,
    )

    assert answer.status_code == 422 and "simulate_indexes" in answer.json()["detail"]
    assert job(client, acme, database["id"], job_id)["status"] == "leased"


def test_an_expired_lease_is_leased_again_until_the_attempts_run_out(
    two_attempts: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    client = two_attempts
    database = register_database(client, acme)
    agent = bearer(database["agent_token"])
    job_id = queue(client, acme, database["id"])
    lose_lease = "UPDATE agent_jobs SET lease_expires_at = now() - interval '1 second' WHERE id = %s"

    first = lease(client, agent)
    run_sql(metadata_url, lose_lease, job_id)
    second = lease(client, agent)
    run_sql(metadata_url, lose_lease, job_id)
    third = lease(client, agent)

    assert [verified(client, agent, signed).attempt for signed in first + second] == [1, 2]
    assert third == []
    gone = job(client, acme, database["id"], job_id)
    assert (gone["status"], gone["attempts"], gone["error"]) == (
        "failed",
        2,
        "no result from the agent after 2 leases",
    )
    late = client.post(f"/api/v1/agent/jobs/{job_id}/result", json={"status": "failed"}, headers=agent)
    assert late.status_code == 409


def test_a_job_past_its_expiry_is_never_handed_out(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    database = register_database(client, acme)
    agent = bearer(database["agent_token"])
    stale, fresh = queue(client, acme, database["id"]), queue(client, acme, database["id"])
    run_sql(
        metadata_url, "UPDATE agent_jobs SET expires_at = now() - interval '1 second' WHERE id = %s", stale
    )

    seen_before_the_agent_polls = job(client, acme, database["id"], stale)["status"]
    leased = [str(verified(client, agent, signed).id) for signed in lease(client, agent)]

    assert seen_before_the_agent_polls == "expired"
    assert leased == [fresh]
    assert job(client, acme, database["id"], stale)["status"] == "expired"


def test_a_job_is_never_signed_valid_past_its_own_expiry(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    database = register_database(client, acme)
    agent = bearer(database["agent_token"])
    job_id = queue(client, acme, database["id"])
    run_sql(
        metadata_url, "UPDATE agent_jobs SET expires_at = now() + interval '20 seconds' WHERE id = %s", job_id
    )

    (signed,) = lease(client, agent)
    body = verified(client, agent, signed)

    assert body.expires_at - body.issued_at <= timedelta(seconds=21)


def test_simulations_need_the_analyst_or_admin_role_and_a_valid_body(
    client: TestClient, acme: SeededTenant
) -> None:
    database = register_database(client, acme)
    path = f"/api/v1/databases/{database['id']}/simulations"
    judge = {"kind": "judge_rewrite", "fingerprint": fingerprint(0), "rewritten_sql": "SELECT 1"}

    answers = {
        role: client.post(path, json=SIMULATION, headers=as_user(client, acme, role)).status_code
        for role in ("viewer", "analyst", "admin")
    }
    judged = client.post(path, json=judge, headers=as_user(client, acme, "analyst"))
    empty = client.post(path, json={**SIMULATION, "candidates": []}, headers=as_user(client, acme, "analyst"))
    unknown = client.post(path, json={**judge, "kind": "apply"}, headers=as_user(client, acme, "admin"))
    missing = client.post(
        f"/api/v1/databases/{uuid.uuid4()}/simulations",
        json=SIMULATION,
        headers=as_user(client, acme, "admin"),
    )

    assert answers == {"viewer": 403, "analyst": 202, "admin": 202}
    assert judged.status_code == 202
    assert job(client, acme, database["id"], judged.json()["job_id"])["kind"] == "judge_rewrite"
    assert (empty.status_code, unknown.status_code, missing.status_code) == (422, 422, 404)


def test_the_published_key_set_is_signed_by_its_active_key(client: TestClient, acme: SeededTenant) -> None:
    agent = bearer(register_database(client, acme)["agent_token"])

    key_set = published_keys(client, agent)

    (active,) = [key for key in key_set.keys if key.status == "active"]
    assert key_set.signed_by == active.key_id
    assert verify_key_set(b64url_decode(active.public_key), key_set)
    assert client.get("/api/v1/agent/signing-keys", headers=as_user(client, acme, "admin")).status_code == 401
