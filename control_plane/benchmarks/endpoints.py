"""`POST /recommendations/{id}/benchmark`: time a verified index on the agent's sandbox."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends

from control_plane.api.services import AppServices, services
from control_plane.auth.dependencies import CallerSession, user_caller
from control_plane.benchmarks.schemas import BenchmarkQueued
from control_plane.benchmarks.service import BenchmarkService

router = APIRouter(prefix="/recommendations/{recommendation_id}", tags=["benchmarks"])


@router.post("/benchmark", response_model=BenchmarkQueued, status_code=202)
async def benchmark(
    recommendation_id: uuid.UUID,
    caller: CallerSession = Depends(user_caller, scope="function"),
    app: AppServices = Depends(services),
) -> BenchmarkQueued:
    """Analysts and admins: queues a signed benchmark_index job for the database's agent. 409 when
    it is not a proposed, verified create_index, when one is already queued, or when the agent has
    no sandbox."""
    return await BenchmarkService(caller.session, caller.context, app.settings).request(recommendation_id)
