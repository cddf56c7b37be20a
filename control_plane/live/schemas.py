"""What the live endpoints answer and what each server-sent event carries: ids and statuses only.

A page that receives an event refetches what it shows through the normal API, so an event never
carries data that the JSON API would have filtered or shaped differently for the caller's role.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

EventName = Literal["snapshot", "job", "recommendation", "reconnect"]


class LiveTicket(BaseModel):
    ticket: str = Field(description="Single use; pass it as ?ticket= to GET /live/events")
    expires_in: float = Field(description="Seconds until the ticket can no longer be redeemed")


class SnapshotEvent(BaseModel):
    """A snapshot of the database was stored."""

    database_id: uuid.UUID
    collected_at: datetime


class JobEvent(BaseModel):
    """A job of the database was queued or changed status."""

    job_id: uuid.UUID
    # A plain string, so that a job kind added later reaches pages instead of breaking streams.
    kind: str = Field(
        description="An agent job's kind (simulate_indexes, judge_rewrite, apply, rollback), or "
        "analysis for an analysis run, whose job_id is the run's id"
    )
    status: str


class RecommendationEvent(BaseModel):
    """A recommendation of the database was created or changed status."""

    recommendation_id: uuid.UUID
    status: str


class ReconnectEvent(BaseModel):
    """The stream ends here on purpose: fetch a new ticket and open a new stream."""

    reason: Literal["max_duration", "signed_out"]


LiveEvent = SnapshotEvent | JobEvent | RecommendationEvent | ReconnectEvent


@dataclass(frozen=True)
class Change:
    """One row of the "what changed since" poll (control_plane.live.repository)."""

    source: Literal["snapshot", "agent_job", "analysis_run", "recommendation"]
    object_id: uuid.UUID
    kind: str | None  # agent_jobs.kind
    status: str | None
    collected_at: datetime | None  # snapshots only
    changed_at: datetime

    @property
    def key(self) -> tuple[str, uuid.UUID, datetime]:
        """One change of one object: the same object changing again is another key."""
        return self.source, self.object_id, self.changed_at


@dataclass(frozen=True)
class Redeemed:
    """A ticket that was valid: whom it was issued to."""

    user_id: uuid.UUID
    token_generation: int
