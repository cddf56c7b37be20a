"""Webhooks of the caller's tenant (admins only): add, list, remove, and see their deliveries."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Query, Response, status

from control_plane.api.services import AppServices, services
from control_plane.auth.dependencies import CallerSession, user_caller
from control_plane.auth.permissions import ensure_permission
from control_plane.models import Webhook
from control_plane.notifications.schemas import DeliveryOut, WebhookCreated, WebhookIn, WebhookOut
from control_plane.notifications.service import WebhookService

router = APIRouter(prefix="/webhooks", tags=["notifications"])


def _out(webhook: Webhook) -> WebhookOut:
    return WebhookOut(
        id=webhook.id,
        url=webhook.url,
        kind=webhook.kind,
        events=list(webhook.events),
        min_improvement_pct=webhook.min_improvement_pct,
        created_at=webhook.created_at,
    )


@router.post("", response_model=WebhookCreated, status_code=status.HTTP_201_CREATED)
async def create_webhook(
    body: WebhookIn,
    caller: CallerSession = Depends(user_caller, scope="function"),
    app: AppServices = Depends(services),
) -> WebhookCreated:
    """The URL must be public (https) unless the operator allows private targets. The signing
    secret is in this answer only."""
    ensure_permission(caller.context, "webhook.manage")
    webhook, secret = await WebhookService(caller.session, caller.context, app.settings).create(body)
    return WebhookCreated(**_out(webhook).model_dump(), secret=secret if webhook.kind == "generic" else None)


@router.get("", response_model=list[WebhookOut])
async def list_webhooks(
    caller: CallerSession = Depends(user_caller, scope="function"),
    app: AppServices = Depends(services),
) -> list[WebhookOut]:
    ensure_permission(caller.context, "webhook.manage")
    return [_out(w) for w in await WebhookService(caller.session, caller.context, app.settings).all()]


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_webhook(
    webhook_id: uuid.UUID,
    caller: CallerSession = Depends(user_caller, scope="function"),
    app: AppServices = Depends(services),
) -> Response:
    await WebhookService(caller.session, caller.context, app.settings).delete(webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{webhook_id}/deliveries", response_model=list[DeliveryOut])
async def list_deliveries(
    webhook_id: uuid.UUID,
    limit: int = Query(50, ge=1, le=500),
    caller: CallerSession = Depends(user_caller, scope="function"),
    app: AppServices = Depends(services),
) -> list[DeliveryOut]:
    """The newest deliveries first, with their attempts, last status code and last error."""
    service = WebhookService(caller.session, caller.context, app.settings)
    return [
        DeliveryOut(
            id=d.id,
            event=d.event,
            status=d.status,
            attempts=d.attempts,
            last_status_code=d.last_status_code,
            last_error=d.last_error,
            created_at=d.created_at,
            next_attempt_at=d.next_attempt_at,
            delivered_at=d.delivered_at,
        )
        for d in await service.deliveries(webhook_id, limit)
    ]
