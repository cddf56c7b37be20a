from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status

from control_plane.api.services import AppServices, services
from control_plane.auth.dependencies import CallerSession, agent_caller, user_caller
from control_plane.edges.rate_limit import limiter
from control_plane.jobs.schemas import JobOut, ResultRecorded, SimulationAccepted, SimulationRequest
from control_plane.jobs.service import AgentJobService, InvalidJobResult, UserJobService
from control_plane.models import AgentJob
from control_plane.signing.service import JobSigningKeys, job_signing_keys
from shared.wire.jobs import JobResult, JobsResponse, LeaseRenewal

agent_router = APIRouter(prefix="/agent/jobs", tags=["agent"])
user_router = APIRouter(prefix="/databases/{database_id}", tags=["jobs"])


@agent_router.get("", response_model=JobsResponse)
async def lease_jobs(
    limit: int | None = Query(None, ge=1, le=100),
    caller: CallerSession = Depends(agent_caller, scope="function"),
    app: AppServices = Depends(services),
    signing: JobSigningKeys = Depends(job_signing_keys),
) -> JobsResponse:
    """Leases the ready jobs of the caller's database, each signed with the active job-signing key."""
    service = AgentJobService(caller.session, caller.context, app.settings, signing)
    return await service.lease(limit or app.settings.job_lease_batch)


@agent_router.post("/{job_id}/lease", response_model=LeaseRenewal)
async def renew_lease(
    job_id: uuid.UUID,
    caller: CallerSession = Depends(agent_caller, scope="function"),
    app: AppServices = Depends(services),
    signing: JobSigningKeys = Depends(job_signing_keys),
) -> LeaseRenewal:
    """Extends the lease of a leased job of the caller's database (a long index build); another
    database's or an unknown job is a 404, a job not leased a 409."""
    return await AgentJobService(caller.session, caller.context, app.settings, signing).renew_lease(job_id)


@agent_router.post("/{job_id}/result", response_model=ResultRecorded)
async def post_result(
    job_id: uuid.UUID,
    body: JobResult,
    caller: CallerSession = Depends(agent_caller, scope="function"),
    app: AppServices = Depends(services),
    signing: JobSigningKeys = Depends(job_signing_keys),
) -> ResultRecorded:
    """The one answer to a leased job: another database's job is a 404, a second answer a 409."""
    service = AgentJobService(caller.session, caller.context, app.settings, signing)
    try:
        recorded = await service.record_result(job_id, body)
    except InvalidJobResult as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(error)) from None
    return ResultRecorded(job_id=job_id, status=recorded)


@user_router.post("/simulations", response_model=SimulationAccepted, status_code=status.HTTP_202_ACCEPTED)
@limiter.limit(lambda: limiter.expensive_limit)
async def simulate(
    request: Request,
    database_id: uuid.UUID,
    body: SimulationRequest,
    caller: CallerSession = Depends(user_caller, scope="function"),
    app: AppServices = Depends(services),
) -> SimulationAccepted:
    """Queues a simulation (candidate indexes, or a rewrite to judge) for the database's agent."""
    job = await UserJobService(caller.session, caller.context, app.settings).simulate(database_id, body)
    return SimulationAccepted(job_id=job.id, status="queued")


def _out(job: AgentJob) -> JobOut:
    return JobOut(
        id=job.id,
        kind=job.kind,
        status=job.status,
        attempts=job.attempts,
        created_at=job.created_at,
        finished_at=job.finished_at,
        result=job.result,
        error=job.error,
    )


@user_router.get("/jobs/{job_id}", response_model=JobOut)
async def get_job(
    database_id: uuid.UUID,
    job_id: uuid.UUID,
    caller: CallerSession = Depends(user_caller, scope="function"),
    app: AppServices = Depends(services),
) -> JobOut:
    return _out(await UserJobService(caller.session, caller.context, app.settings).get(database_id, job_id))
