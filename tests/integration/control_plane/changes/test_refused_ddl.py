"""The control plane checks a change with the agent's own allow-list before it queues the job.

A statement the agent would refuse (signed or not) is refused at approve or rollback time instead,
with the allow-list's reason and a 409: no status move, no job, no audit record of a move.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.integration.control_plane.api.conftest import SeededTenant, as_user
from tests.integration.control_plane.changes.flow import (
    apply_now,
    approve,
    audit,
    finding,
    lease,
    recommendation,
    shop_with_finding,
)


def test_a_recommendation_whose_sql_the_agent_would_refuse_is_not_queued(
    client: TestClient, acme: SeededTenant
) -> None:
    blocking = "CREATE INDEX orders_customer_id_status_idx ON public.orders (customer_id, status);"
    shop = shop_with_finding(client, acme, finding(sql=blocking))

    refused = approve(client, shop)

    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"] == (
        "the recommendation's SQL is not a change the agent may run: "
        "CREATE INDEX without CONCURRENTLY blocks every write to the table while it builds"
    )
    assert recommendation(client, shop)["status"] == "proposed"
    assert lease(client, shop) == []
    assert not [entry for entry in audit(client, acme) if entry["action"] == "recommendation.approve"]


def test_a_rollback_the_agent_would_refuse_is_not_queued(client: TestClient, acme: SeededTenant) -> None:
    locking = finding().model_copy(
        update={"rollback_sql": "DROP INDEX public.orders_customer_id_status_idx CASCADE;"}
    )
    shop = shop_with_finding(client, acme, locking)
    apply_now(client, shop)

    refused = client.post(
        f"/api/v1/recommendations/{shop.recommendation_id}/rollback", headers=as_user(client, acme, "admin")
    )

    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"].startswith(
        "the rollback SQL is not a change the agent may run: DROP INDEX"
    )
    assert recommendation(client, shop)["status"] == "applied"
    assert lease(client, shop) == []
