"""Managing a tenant's webhooks, and queueing notifications in the transaction of their event.

A notification is written to the outbox (`webhook_deliveries`) in the same transaction as what it
announces: an apply whose recording rolls back announces nothing, and one that commits cannot lose
its notification. control_plane.notifications.delivery sends them.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable
from typing import Any

import anyio
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.api.errors import BadRequest, NotFound
from control_plane.audit.repository import AuditRepository
from control_plane.auth.permissions import ensure_permission
from control_plane.crypto.keys import fernet_for
from control_plane.edges.outbound_url import UnsafeOutboundUrl, check_outbound_url
from control_plane.models import MonitoredDatabase, Recommendation, Webhook, WebhookDelivery
from control_plane.notifications.repository import NotificationRepository
from control_plane.notifications.schemas import Event, WebhookIn
from control_plane.settings import Settings
from control_plane.tenancy.context import TenantContext

READY: Event = "recommendation.ready"


def recommendation_summary(recommendation: Recommendation) -> dict[str, Any]:
    return {
        "id": str(recommendation.id),
        "database_id": str(recommendation.database_id),
        "kind": recommendation.kind,
        "tier": recommendation.tier,
        "status": recommendation.status,
        "sql": recommendation.sql,
        "rollback_sql": recommendation.rollback_sql,
        "table": recommendation.table_name,
        "improvement_pct": recommendation.improvement_pct,
        "measured_improvement_pct": recommendation.measured_improvement_pct,
        "measured_verdict": recommendation.measured_verdict,
        "rationale": recommendation.rationale,
    }


async def notify(
    session: AsyncSession,
    context: TenantContext,
    event: Event,
    recommendations: Iterable[Recommendation],
    *,
    dedupe: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Queues `event` for every webhook of the tenant that subscribed to it. `dedupe` names this
    occurrence of the event (with the recommendation id): queued again, it is not sent twice."""
    recommendations = list(recommendations)
    if not recommendations:  # nothing to announce (most snapshots): no need to look for webhooks
        return
    repository = NotificationRepository(session, context)
    hooks = await repository.subscribed(event)
    if not hooks:
        return
    names: dict[uuid.UUID, str] = {}
    rows: list[dict[str, Any]] = []
    for recommendation in recommendations:
        if recommendation.database_id not in names:
            database = await session.get(MonitoredDatabase, (context.tenant_id, recommendation.database_id))
            names[recommendation.database_id] = database.name if database else ""
        for hook in hooks:
            if event == READY and (recommendation.improvement_pct or 0.0) < hook.min_improvement_pct:
                continue
            delivery_id = uuid.uuid4()
            document = {
                "id": str(delivery_id),
                "event": event,
                "tenant_id": str(context.tenant_id),
                "database": {
                    "id": str(recommendation.database_id),
                    "name": names[recommendation.database_id],
                },
                "recommendation": recommendation_summary(recommendation),
                "detail": detail or {},
            }
            rows.append(
                {
                    "id": delivery_id,
                    "webhook_id": hook.id,
                    "event": event,
                    "dedupe_key": f"{event}:{recommendation.id}:{dedupe}",
                    "payload": document,
                }
            )
    await repository.enqueue(rows)


async def notify_recommendation_ready(
    session: AsyncSession, context: TenantContext, recommendation: Recommendation | Iterable[Recommendation]
) -> None:
    """Call wherever recommendations are created or verified: announces each proposed one once,
    to the webhooks whose bar (min_improvement_pct) it clears."""
    found = [recommendation] if isinstance(recommendation, Recommendation) else list(recommendation)
    proposed = [r for r in found if r.status == "proposed" and r.improvement_pct is not None]
    await notify(session, context, READY, proposed, dedupe="ready")


class WebhookService:
    def __init__(self, session: AsyncSession, context: TenantContext, settings: Settings) -> None:
        self._context = context
        self._settings = settings
        self._webhooks = NotificationRepository(session, context)
        self._audit = AuditRepository(session, context)
        self._actor = f"user:{context.user_id}"

    async def _checked_url(self, url: str) -> str:
        try:
            # Resolves the host name: blocking, so off the event loop.
            return await anyio.to_thread.run_sync(
                lambda: check_outbound_url(url, allow_private=self._settings.allow_private_outbound)
            )
        except UnsafeOutboundUrl as error:
            raise BadRequest(f"this webhook URL may not be used: {error}") from None

    async def create(self, request: WebhookIn) -> tuple[Webhook, str]:
        url = await self._checked_url(request.url)
        secret = "whsec_" + secrets.token_urlsafe(32)
        fernet = fernet_for(self._settings.secret_key.get_secret_value())
        webhook = Webhook(
            id=uuid.uuid4(),
            url=url,
            kind=request.kind,
            events=sorted(set(request.events)),
            min_improvement_pct=(
                request.min_improvement_pct
                if request.min_improvement_pct is not None
                else self._settings.notify_min_improvement_pct
            ),
            secret_encrypted=fernet.encrypt(secret.encode()),
            created_by=self._actor,
        )
        added = await self._webhooks.add(webhook)
        await self._audit.record(
            self._actor,
            "webhook.create",
            f"webhook:{added.id}",
            {"kind": added.kind, "events": added.events},
            actor_user_id=self._context.user_id,
        )
        return added, secret

    async def all(self) -> list[Webhook]:
        return await self._webhooks.all()

    async def found(self, webhook_id: uuid.UUID) -> Webhook:
        webhook = await self._webhooks.get(webhook_id)
        if webhook is None:
            raise NotFound("webhook not found")
        return webhook

    async def delete(self, webhook_id: uuid.UUID) -> None:
        await self.found(webhook_id)  # another tenant's webhook is a 404 before the role
        ensure_permission(self._context, "webhook.manage")
        await self._webhooks.delete(webhook_id)
        await self._audit.record(
            self._actor, "webhook.delete", f"webhook:{webhook_id}", actor_user_id=self._context.user_id
        )

    async def deliveries(self, webhook_id: uuid.UUID, limit: int) -> list[WebhookDelivery]:
        await self.found(webhook_id)
        ensure_permission(self._context, "webhook.manage")
        return await self._webhooks.deliveries(webhook_id, limit)
