"""Sending queued notifications: signed JSON for generic webhooks, Slack's incoming-webhook format.

A background job (Settings.webhook_delivery_interval_s) asks which tenants have deliveries due and
sends each tenant's in one transaction, rows locked with SKIP LOCKED so replicas share the work.
A delivery that fails (no 2xx, a timeout, a URL that now resolves to a private address) is tried
again after a backoff that doubles each time, up to Settings.webhook_max_attempts; every attempt
records its status code and error.

Generic signature: `X-OptiSchema-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
A receiver recomputes it over the raw body and rejects old timestamps, which stops replays.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import uuid
from datetime import timedelta
from typing import Any

import anyio
import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.crypto.keys import fernet_for
from control_plane.db.session import lookup_session, tenant_session
from control_plane.edges.outbound_url import UnsafeOutboundUrl, check_outbound_url
from control_plane.models import Webhook, WebhookDelivery
from control_plane.notifications.repository import NotificationRepository, tenants_with_due_deliveries
from control_plane.settings import Settings
from control_plane.tenancy.context import TenantContext

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-OptiSchema-Signature"
MAX_ERROR = 500


def signature(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(secret: str, body: bytes, header: str, *, tolerance_s: int = 300) -> bool:
    """What a receiver does (and the tests): the header matches the body and is recent."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, body, timestamp), f"t={timestamp},v1={parts.get('v1', '')}")


def slack_message(document: dict[str, Any]) -> dict[str, Any]:
    recommendation = document["recommendation"]
    database = document["database"]["name"] or document["database"]["id"]
    headline = {
        "recommendation.ready": "New recommendation",
        "recommendation.applied": "Change applied",
        "recommendation.apply_failed": "Change failed",
        "recommendation.regressed": "Change made things slower",
        "recommendation.rolled_back": "Change rolled back",
        "recommendation.rollback_failed": "Rollback failed",
    }.get(document["event"], document["event"])
    figures = []
    if recommendation.get("improvement_pct") is not None:
        figures.append(f"expected {recommendation['improvement_pct']:.1f}% faster")
    if recommendation.get("measured_improvement_pct") is not None:
        figures.append(f"measured {recommendation['measured_improvement_pct']:.1f}%")
    error = document.get("detail", {}).get("error")
    text = f"*{headline}* on `{database}`: {recommendation['kind']} on `{recommendation['table']}`"
    if figures:
        text += f" ({', '.join(figures)})"
    lines = [text, f"```{recommendation['sql']}```"]
    if error:
        lines.append(f"Error: {error}")
    return {
        "text": f"{headline} on {database}: {recommendation['sql']}",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}}],
    }


def request_for(webhook: Webhook, delivery: WebhookDelivery, secret: str) -> tuple[bytes, dict[str, str]]:
    headers = {"Content-Type": "application/json", "User-Agent": "OptiSchema-Webhooks/1"}
    if webhook.kind == "slack":
        return json.dumps(slack_message(delivery.payload)).encode(), headers
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    headers |= {
        "X-OptiSchema-Event": delivery.event,
        "X-OptiSchema-Delivery": str(delivery.id),
        SIGNATURE_HEADER: signature(secret, body, int(time.time())),
    }
    return body, headers


async def _attempt(
    client: httpx.AsyncClient, settings: Settings, webhook: Webhook, delivery: WebhookDelivery
) -> tuple[int | None, str | None]:
    """(status code, error): no error means delivered."""
    try:
        url = await anyio.to_thread.run_sync(
            lambda: check_outbound_url(webhook.url, allow_private=settings.allow_private_outbound)
        )
    except UnsafeOutboundUrl as error:
        return None, f"not sent: {error}"
    secret = fernet_for(settings.secret_key.get_secret_value()).decrypt(webhook.secret_encrypted).decode()
    body, headers = request_for(webhook, delivery, secret)
    try:
        response = await client.post(url, content=body, headers=headers)
    except httpx.HTTPError as error:
        return None, f"{type(error).__name__}: {error}"[:MAX_ERROR]
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"HTTP {response.status_code}: {response.text[:200]}"


def backoff(settings: Settings, attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt."""
    return timedelta(
        seconds=min(settings.webhook_backoff_s * 2 ** max(0, attempts - 1), settings.webhook_backoff_max_s)
    )


async def deliver_tenant(
    engine: AsyncEngine, settings: Settings, tenant_id: uuid.UUID, client: httpx.AsyncClient
) -> int:
    context = TenantContext(tenant_id=tenant_id, principal="system")
    sent = 0
    async with tenant_session(engine, context) as session:
        repository = NotificationRepository(session, context)
        for delivery, webhook in await repository.due(settings.webhook_batch):
            status_code, error = await _attempt(client, settings, webhook, delivery)
            attempts = delivery.attempts + 1
            if error is None:
                sent += 1
                await repository.record_attempt(
                    delivery.id, status="delivered", status_code=status_code, error=None, retry_in=None
                )
                continue
            gave_up = attempts >= settings.webhook_max_attempts
            log.info("webhook delivery %s failed (attempt %s): %s", delivery.id, attempts, error)
            await repository.record_attempt(
                delivery.id,
                status="failed" if gave_up else "pending",
                status_code=status_code,
                error=error,
                retry_in=None if gave_up else backoff(settings, attempts),
            )
    return sent


async def deliver_due_webhooks(
    engine: AsyncEngine, settings: Settings, client: httpx.AsyncClient | None = None
) -> int:
    """Sends every delivery that is due, tenant by tenant; returns how many succeeded."""
    async with lookup_session(engine) as session:
        tenants = await tenants_with_due_deliveries(session)
    if not tenants:
        return 0
    own_client = client is None
    http = client or httpx.AsyncClient(timeout=settings.webhook_timeout_s, follow_redirects=False)
    try:
        sent = 0
        for tenant_id in tenants:
            sent += await deliver_tenant(engine, settings, tenant_id, http)
        return sent
    finally:
        if own_client:
            await http.aclose()
