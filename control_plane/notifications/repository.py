"""Webhooks and their deliveries (the outbox). Every statement is tenant-scoped."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.models import Webhook, WebhookDelivery
from control_plane.tenancy.context import TenantContext


class NotificationRepository:
    def __init__(self, session: AsyncSession, context: TenantContext) -> None:
        self._session = session
        self._tenant_id = context.tenant_id

    async def add(self, webhook: Webhook) -> Webhook:
        webhook.tenant_id = self._tenant_id
        self._session.add(webhook)
        await self._session.flush()
        await self._session.refresh(webhook)
        return webhook

    async def all(self) -> list[Webhook]:
        rows = await self._session.scalars(
            select(Webhook)
            .where(Webhook.tenant_id == self._tenant_id)
            .order_by(Webhook.created_at, Webhook.id)
        )
        return list(rows)

    async def get(self, webhook_id: uuid.UUID) -> Webhook | None:
        return await self._session.scalar(
            select(Webhook).where(Webhook.tenant_id == self._tenant_id, Webhook.id == webhook_id)
        )

    async def delete(self, webhook_id: uuid.UUID) -> None:
        await self._session.execute(
            delete(Webhook).where(Webhook.tenant_id == self._tenant_id, Webhook.id == webhook_id)
        )

    async def subscribed(self, event: str) -> list[Webhook]:
        rows = await self._session.scalars(
            select(Webhook).where(Webhook.tenant_id == self._tenant_id, Webhook.events.contains([event]))
        )
        return list(rows)

    async def enqueue(self, rows: Sequence[dict[str, Any]]) -> None:
        """Outbox rows, in the caller's transaction; an event already queued for a webhook is not
        queued again (same dedupe key)."""
        if not rows:
            return
        await self._session.execute(
            insert(WebhookDelivery)
            .values([{**row, "tenant_id": self._tenant_id} for row in rows])
            .on_conflict_do_nothing(
                index_elements=[
                    WebhookDelivery.tenant_id,
                    WebhookDelivery.webhook_id,
                    WebhookDelivery.dedupe_key,
                ]
            )
        )

    async def deliveries(self, webhook_id: uuid.UUID, limit: int) -> list[WebhookDelivery]:
        rows = await self._session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.tenant_id == self._tenant_id, WebhookDelivery.webhook_id == webhook_id)
            .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
            .limit(limit)
        )
        return list(rows)

    async def due(self, limit: int) -> list[tuple[WebhookDelivery, Webhook]]:
        """Pending deliveries whose time has come, locked so another replica skips them."""
        rows = await self._session.execute(
            select(WebhookDelivery, Webhook)
            .join(
                Webhook,
                (Webhook.tenant_id == WebhookDelivery.tenant_id) & (Webhook.id == WebhookDelivery.webhook_id),
            )
            .where(
                WebhookDelivery.tenant_id == self._tenant_id,
                WebhookDelivery.status == "pending",
                WebhookDelivery.next_attempt_at <= func.now(),
            )
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
            .with_for_update(of=WebhookDelivery, skip_locked=True)
        )
        return [(delivery, webhook) for delivery, webhook in rows]

    async def record_attempt(
        self,
        delivery_id: uuid.UUID,
        *,
        status: str,
        status_code: int | None,
        error: str | None,
        retry_in: timedelta | None,
    ) -> None:
        values: dict[str, Any] = {
            "status": status,
            "attempts": WebhookDelivery.attempts + 1,
            "last_status_code": status_code,
            "last_error": error,
        }
        if status == "delivered":
            values["delivered_at"] = func.now()
        if retry_in is not None:
            values["next_attempt_at"] = func.now() + retry_in
        await self._session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.tenant_id == self._tenant_id, WebhookDelivery.id == delivery_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )


async def tenants_with_due_deliveries(session: AsyncSession) -> list[uuid.UUID]:
    """From a lookup session: the tenants with deliveries to send now (ids only)."""
    rows = await session.scalars(text("SELECT optischema_tenants_with_due_webhook_deliveries()"))
    return list(rows)
