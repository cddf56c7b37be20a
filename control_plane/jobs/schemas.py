from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Discriminator, Tag

from shared.wire.jobs import JudgeRewritePayload, SimulateIndexesPayload

JobStatus = Literal["queued", "leased", "succeeded", "failed", "expired"]


class SimulateIndexesRequest(SimulateIndexesPayload):
    kind: Literal["simulate_indexes"] = "simulate_indexes"


class JudgeRewriteRequest(JudgeRewritePayload):
    kind: Literal["judge_rewrite"]


def _simulation_kind(value: Any) -> str:
    # `kind` may be left out for an index simulation, the common case.
    if isinstance(value, dict):
        return str(value.get("kind", "simulate_indexes"))
    return str(getattr(value, "kind", "simulate_indexes"))


SimulationRequest = Annotated[
    Annotated[SimulateIndexesRequest, Tag("simulate_indexes")]
    | Annotated[JudgeRewriteRequest, Tag("judge_rewrite")],
    Discriminator(_simulation_kind),
]


class SimulationAccepted(BaseModel):
    job_id: uuid.UUID
    status: JobStatus


class JobOut(BaseModel):
    id: uuid.UUID
    kind: str
    status: JobStatus
    attempts: int
    created_at: datetime
    finished_at: datetime | None
    result: dict[str, Any] | None
    error: str | None


class ResultRecorded(BaseModel):
    job_id: uuid.UUID
    status: JobStatus
