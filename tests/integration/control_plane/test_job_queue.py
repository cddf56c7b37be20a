"""The job queue under concurrency: replicas leasing at the same moment never share a job or wait."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.db.session import tenant_session
from control_plane.jobs.repository import JobRepository
from control_plane.jobs.service import enqueue_job
from control_plane.tenancy.context import TenantContext
from shared.wire.jobs import CandidateIndexSpec, SimulateIndexesPayload
from tests.integration.control_plane.conftest import create_tenant_with_admin

LEASE = timedelta(minutes=5)
PAYLOAD = SimulateIndexesPayload(
    candidates=[CandidateIndexSpec(table="public.orders", columns=["customer_id"])], fingerprints=["0" * 16]
)


async def database_with_jobs(engine: AsyncEngine, jobs: int) -> tuple[TenantContext, uuid.UUID]:
    tenant = await create_tenant_with_admin(engine, f"t{uuid.uuid4().hex[:8]}")
    context = TenantContext(tenant_id=tenant.tenant_id, principal="system")
    database_id = uuid.uuid4()
    async with tenant_session(engine, context) as session:
        await session.execute(
            text("INSERT INTO monitored_databases (tenant_id, id, name) VALUES (:t, :d, 'shop')"),
            {"t": tenant.tenant_id, "d": database_id},
        )
        for _ in range(jobs):
            await enqueue_job(
                session,
                context,
                database_id,
                "simulate_indexes",
                PAYLOAD,
                expires_in=timedelta(hours=1),
                max_attempts=3,
            )
    return context, database_id


@pytest.mark.asyncio
async def test_two_replicas_leasing_at_once_get_different_jobs_without_waiting(
    metadata_engine: AsyncEngine,
) -> None:
    context, database_id = await database_with_jobs(metadata_engine, 5)

    async with tenant_session(metadata_engine, context) as first:
        held = await JobRepository(first, context).lease(database_id, 2, LEASE)
        # The first replica's transaction is still open and holds its rows locked.
        async with tenant_session(metadata_engine, context) as second:
            other = JobRepository(second, context)
            await asyncio.wait_for(other.settle_stale(database_id), timeout=5)
            rest = await asyncio.wait_for(other.lease(database_id, 10, LEASE), timeout=5)

    assert len(held) == 2 and len(rest) == 3
    assert {job.id for job in held}.isdisjoint({job.id for job in rest})


@pytest.mark.asyncio
async def test_many_concurrent_leases_hand_out_each_job_exactly_once(metadata_engine: AsyncEngine) -> None:
    context, database_id = await database_with_jobs(metadata_engine, 12)

    async def replica() -> list[uuid.UUID]:
        async with tenant_session(metadata_engine, context) as session:
            return [job.id for job in await JobRepository(session, context).lease(database_id, 3, LEASE)]

    batches = await asyncio.gather(*(replica() for _ in range(6)))

    leased = [job_id for batch in batches for job_id in batch]
    assert len(leased) == len(set(leased)) == 12
