"""A long index build keeps its job: the agent renews the lease while it works."""

from __future__ import annotations

from datetime import datetime

import psycopg
from fastapi.testclient import TestClient

from tests.integration.control_plane.api.conftest import SeededTenant, bearer, register_database
from tests.integration.control_plane.changes.flow import (
    answer,
    applied_result,
    approve,
    lease,
    shop_with_finding,
)


def test_the_agent_renews_the_lease_of_its_leased_job_only(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    shop = shop_with_finding(client, acme)
    approve(client, shop)
    (job,) = lease(client, shop)
    with psycopg.connect(metadata_url, autocommit=True) as conn:
        conn.execute("UPDATE agent_jobs SET lease_expires_at = now() + interval '5 seconds'")
    other = bearer(register_database(client, acme, "crm")["agent_token"])

    renewed = client.post(f"/api/v1/agent/jobs/{job.id}/lease", headers=shop.agent)
    by_other_agent = client.post(f"/api/v1/agent/jobs/{job.id}/lease", headers=other)
    answer(client, shop, job.id, {"status": "succeeded", "result": applied_result()})
    after_answer = client.post(f"/api/v1/agent/jobs/{job.id}/lease", headers=shop.agent)

    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["job_id"] == str(job.id)
    remaining = datetime.fromisoformat(renewed.json()["lease_expires_at"]) - job.issued_at
    assert remaining.total_seconds() > 250  # job_lease_s (300) from now again
    assert by_other_agent.status_code == 404
    assert after_answer.status_code == 409
