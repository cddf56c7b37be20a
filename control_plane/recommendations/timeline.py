"""A recommendation's timeline: when it was proposed, then every move the audit trail recorded
(control_plane.changes.trail writes one event per move, in the move's transaction), with the person
who made it and the particulars a card shows: the reason, the job, the index built, the measured
result.

Anyone who may read the recommendation may read its timeline (viewers too): it is read here, for
this one object, and not through the audit page, which needs `audit.read`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, get_args

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.audit.repository import AuditRepository
from control_plane.models import AuditEvent, Recommendation
from control_plane.recommendations.schemas import (
    RecommendationStatus,
    TimelineDetail,
    TimelineEntry,
)
from control_plane.tenancy.context import TenantContext

ACTION_PREFIX = "recommendation."
_STATUSES = frozenset(get_args(RecommendationStatus))
# The event detail's keys that say why (reject: reason; a failed job: error), and which other
# recommendation the move is about (supersede: superseded_by; reopen: rolled_back).
_REASON_KEYS = ("reason", "error")
_RELATED_KEYS = ("superseded_by", "rolled_back")


def _user_id(actor: str) -> uuid.UUID | None:
    if not actor.startswith("user:"):
        return None
    try:
        return uuid.UUID(actor.removeprefix("user:"))
    except ValueError:
        return None


def _first(detail: dict[str, Any], keys: Sequence[str]) -> Any:
    return next((detail[key] for key in keys if detail.get(key) is not None), None)


def timeline_detail(detail: dict[str, Any]) -> TimelineDetail:
    """The event's particulars a card shows; a value of an unexpected shape is left out, never fatal."""
    values = {
        "reason": _first(detail, _REASON_KEYS),
        "job_id": detail.get("job_id"),
        "not_before": detail.get("not_before"),
        "attempt": detail.get("attempt"),
        "index_name": detail.get("index_name"),
        "index_size_bytes": detail.get("index_size_bytes"),
        "duration_s": detail.get("duration_s"),
        "measured_improvement_pct": detail.get("measured_improvement_pct"),
        "measured_verdict": detail.get("verdict"),
        "related_recommendation_id": _first(detail, _RELATED_KEYS),
    }
    try:
        return TimelineDetail.model_validate(values)
    except ValidationError as invalid:
        wrong = {str(error["loc"][0]) for error in invalid.errors()}
        return TimelineDetail.model_validate({k: v for k, v in values.items() if k not in wrong})


def _entry(event: AuditEvent, emails: dict[uuid.UUID, str]) -> TimelineEntry:
    user_id = _user_id(event.actor)
    status = event.detail.get("status")
    return TimelineEntry(
        at=event.at,
        action=event.action.removeprefix(ACTION_PREFIX),
        status=status if status in _STATUSES else None,
        actor="user"
        if event.actor.startswith("user:")
        else "agent"
        if event.actor.startswith("agent:")
        else "system",
        actor_email=emails.get(user_id) if user_id else None,
        detail=timeline_detail(event.detail),
    )


async def recommendation_timeline(
    session: AsyncSession, context: TenantContext, row: Recommendation
) -> list[TimelineEntry]:
    """Oldest first: `proposed` (by its finder, at creation), then each recorded move."""
    audit = AuditRepository(session, context)
    events = await audit.of_object(f"recommendation:{row.id}")
    emails = await audit.user_emails({found for event in events if (found := _user_id(event.actor))})
    proposed = TimelineEntry(
        at=row.created_at, action="proposed", status="proposed", actor="agent" if row.source == "agent" else "system",
        detail=TimelineDetail(),
    )  # fmt: skip
    return [proposed, *(_entry(event, emails) for event in events)]
