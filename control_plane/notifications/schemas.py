from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

WebhookKind = Literal["generic", "slack"]
Event = Literal[
    "recommendation.ready",  # a new recommendation promising at least the webhook's min_improvement_pct
    "recommendation.applied",
    "recommendation.apply_failed",
    "recommendation.regressed",  # measured after apply: the statements got slower
    "recommendation.rolled_back",
    "recommendation.rollback_failed",
]
EVENTS: tuple[Event, ...] = (
    "recommendation.ready",
    "recommendation.applied",
    "recommendation.apply_failed",
    "recommendation.regressed",
    "recommendation.rolled_back",
    "recommendation.rollback_failed",
)
DeliveryStatus = Literal["pending", "delivered", "failed"]


class WebhookIn(BaseModel):
    url: str = Field(min_length=1, max_length=2000)
    kind: WebhookKind = "generic"
    events: list[Event] = Field(default_factory=lambda: list(EVENTS), min_length=1)
    min_improvement_pct: float | None = Field(
        default=None, ge=0, description="For recommendation.ready; the server's default when left out"
    )


class WebhookOut(BaseModel):
    id: uuid.UUID
    url: str
    kind: WebhookKind
    events: list[str]
    min_improvement_pct: float
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str | None = Field(
        description="Shown only here. Generic webhooks are signed with it: "
        "X-OptiSchema-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of '<t>.<body>'>; Slack ones are not"
    )


class DeliveryOut(BaseModel):
    id: uuid.UUID
    event: str
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None
