"""Webhooks: the receiver gets signed notifications of new recommendations, apply results and
regressions; Slack gets its own format; deliveries are retried and recorded."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from control_plane.changes.measured import measure_applied_changes
from control_plane.notifications.delivery import SIGNATURE_HEADER, deliver_due_webhooks, verify_signature
from tests.integration.control_plane.api.conftest import SeededTenant, as_user
from tests.integration.control_plane.changes.flow import (
    answer,
    applied_six_minutes_ago,
    approve,
    finding,
    lease,
    report,
    run_in_app,
    send,
    shop_with_finding,
    workload,
)
from tests.integration.control_plane.notifications.conftest import Receiver


def add_webhook(client: TestClient, tenant: SeededTenant, url: str, **fields: Any) -> dict[str, Any]:
    response = client.post(
        "/api/v1/webhooks", json={"url": url, **fields}, headers=as_user(client, tenant, "admin")
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def deliver(client: TestClient) -> int:
    return run_in_app(client, lambda app: deliver_due_webhooks(app.engine, app.settings))


def test_the_receiver_gets_signed_notifications_of_a_new_recommendation_and_of_its_apply(
    notifying: TestClient, acme: SeededTenant, receiver: Receiver
) -> None:
    client = notifying
    hook = add_webhook(client, acme, receiver.url)
    shop = shop_with_finding(client, acme, finding(improvement=99.9))
    send(client, shop.agent, workload(datetime.now(UTC), findings=report(finding(improvement=99.9))))  # again
    approve(client, shop)
    (job,) = lease(client, shop)
    answer(client, shop, job.id, {"status": "failed", "error": "lock timeout, gave up after 3 tries"})

    assert deliver(client) == 2
    assert deliver(client) == 0

    events = [r.json()["event"] for r in receiver.received]
    assert events == ["recommendation.ready", "recommendation.apply_failed"]  # announced once each
    for received in receiver.received:
        assert verify_signature(hook["secret"], received.body, received.headers[SIGNATURE_HEADER.lower()])
        assert not verify_signature("whsec_wrong", received.body, received.headers[SIGNATURE_HEADER.lower()])
        assert received.headers["x-optischema-event"] == received.json()["event"]
    ready, failed = (r.json() for r in receiver.received)
    assert ready["recommendation"]["id"] == shop.recommendation_id
    assert ready["database"] == {"id": shop.database_id, "name": "shop"}
    assert failed["detail"]["error"] == "lock timeout, gave up after 3 tries"
    deliveries = client.get(
        f"/api/v1/webhooks/{hook['id']}/deliveries", headers=as_user(client, acme, "admin")
    )
    assert [(d["status"], d["attempts"], d["last_status_code"]) for d in deliveries.json()] == [
        ("delivered", 1, 200),
        ("delivered", 1, 200),
    ]


def test_small_improvements_and_unsubscribed_events_are_not_announced(
    notifying: TestClient, acme: SeededTenant, receiver: Receiver
) -> None:
    add_webhook(notifying, acme, receiver.url, events=["recommendation.applied"])
    add_webhook(
        notifying, acme, receiver.url + "/ready", events=["recommendation.ready"], min_improvement_pct=99.95
    )
    shop_with_finding(notifying, acme, finding(improvement=99.9))

    assert deliver(notifying) == 0
    assert receiver.received == []


def test_slack_webhooks_get_slacks_incoming_webhook_format_unsigned(
    notifying: TestClient, acme: SeededTenant, receiver: Receiver
) -> None:
    created = add_webhook(notifying, acme, receiver.url, kind="slack", events=["recommendation.ready"])
    shop_with_finding(notifying, acme, finding(improvement=99.9))

    deliver(notifying)

    (received,) = receiver.received
    message = received.json()
    assert created["secret"] is None and SIGNATURE_HEADER.lower() not in received.headers
    assert message["text"].startswith("New recommendation on shop")
    assert message["blocks"][0]["type"] == "section" and "99.9%" in message["blocks"][0]["text"]["text"]


def test_failed_deliveries_are_retried_with_their_status_recorded_until_they_give_up(
    notifying: TestClient, acme: SeededTenant, receiver: Receiver
) -> None:
    hook = add_webhook(notifying, acme, receiver.url, events=["recommendation.ready"])
    receiver.statuses = [500, 503, 502]  # webhook_max_attempts is 3
    shop_with_finding(notifying, acme, finding(improvement=99.9))

    sent = [deliver(notifying) for _ in range(4)]

    assert sent == [0, 0, 0, 0] and len(receiver.received) == 3
    (delivery,) = notifying.get(
        f"/api/v1/webhooks/{hook['id']}/deliveries", headers=as_user(notifying, acme, "admin")
    ).json()
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("failed", 3, 502)
    assert delivery["last_error"].startswith("HTTP 502")


def test_webhooks_are_for_admins_of_their_own_tenant_and_their_urls_are_checked(
    client: TestClient, acme: SeededTenant, globex: SeededTenant
) -> None:
    admin = as_user(client, acme, "admin")
    loopback = client.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"}, headers=admin)
    metadata = client.post("/api/v1/webhooks", json={"url": "https://169.254.169.254/latest"}, headers=admin)
    by_analyst = client.post(
        "/api/v1/webhooks",
        json={"url": "https://hooks.example.com/x"},
        headers=as_user(client, acme, "analyst"),
    )
    listed_by_viewer = client.get("/api/v1/webhooks", headers=as_user(client, acme, "viewer"))

    assert loopback.status_code == 400 and "https" in loopback.json()["detail"]
    assert metadata.status_code == 400 and "private" in metadata.json()["detail"]
    assert (by_analyst.status_code, listed_by_viewer.status_code) == (403, 403)
    assert client.get("/api/v1/webhooks", headers=admin).json() == []


def test_an_admin_removes_a_webhook_and_another_tenant_cannot(
    notifying: TestClient, acme: SeededTenant, globex: SeededTenant, receiver: Receiver
) -> None:
    hook = add_webhook(notifying, acme, receiver.url)
    secret_free = notifying.get("/api/v1/webhooks", headers=as_user(notifying, acme, "admin")).json()

    by_stranger = notifying.delete(
        f"/api/v1/webhooks/{hook['id']}", headers=as_user(notifying, globex, "admin")
    )
    removed = notifying.delete(f"/api/v1/webhooks/{hook['id']}", headers=as_user(notifying, acme, "admin"))

    assert "secret" not in secret_free[0] and secret_free[0]["events"]
    assert (by_stranger.status_code, removed.status_code) == (404, 204)
    assert notifying.get("/api/v1/webhooks", headers=as_user(notifying, acme, "admin")).json() == []


def test_the_receiver_gets_the_applied_change_and_its_measured_regression(
    notifying: TestClient, acme: SeededTenant, receiver: Receiver
) -> None:
    hook = add_webhook(
        notifying, acme, receiver.url, events=["recommendation.applied", "recommendation.regressed"]
    )
    shop = applied_six_minutes_ago(notifying, acme, after_ms=400.0)
    run_in_app(notifying, lambda app: measure_applied_changes(app.engine, app.settings))

    assert deliver(notifying) == 2

    applied, regressed = (r.json() for r in receiver.received)
    assert (applied["event"], regressed["event"]) == ("recommendation.applied", "recommendation.regressed")
    assert applied["detail"]["outcome"] == "applied"
    assert regressed["recommendation"]["id"] == shop.recommendation_id
    assert regressed["recommendation"]["measured_improvement_pct"] == -100.0
    assert regressed["detail"]["verdict"] == "regressed"
    for received in receiver.received:
        assert verify_signature(hook["secret"], received.body, received.headers[SIGNATURE_HEADER.lower()])
