from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from control_plane.recommendations.schemas import RecommendationOut

ExportFormat = Literal["sql", "alembic"]


class ApproveRequest(BaseModel):
    not_before: datetime | None = Field(
        default=None, description="Not applied before this time (and only inside the maintenance window)"
    )


class RejectRequest(BaseModel):
    reason: str | None = Field(default=None, max_length=2000)


class ChangeQueued(BaseModel):
    """A change handed to the agent's queue: the recommendation as it is now, and its job."""

    recommendation: RecommendationOut
    job_id: uuid.UUID
