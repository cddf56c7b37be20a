"""The analysis worker: a periodic job that finds work across tenants and does it tenant by tenant.

Each turn asks `optischema_analysis_work` (the only cross-tenant read, in a lookup transaction)
which databases have a run to take or a snapshot to check. For each, acting for its tenant with a
system TenantContext: queue an automatic run if the snapshot calls for one, then lease and analyse
the database's runs one at a time. A run's transactions are short: lease (committed, so another
replica skips it), read, ask the LLM with no transaction open, write and finish. A worker that
dies mid-run leaves its lease to expire; the next turn of any replica takes the run again.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.analysis.analyser import consult_all, store_results
from control_plane.analysis.llm.failover import ProviderChain
from control_plane.analysis.run_inputs import gather_inputs
from control_plane.analysis.runs_repository import AnalysisRunRepository, pending_work
from control_plane.analysis.triggers import check_for_changes
from control_plane.db.session import lookup_session, tenant_session
from control_plane.models import AnalysisRun
from control_plane.settings import Settings
from control_plane.tenancy.context import TenantContext

log = logging.getLogger(__name__)
HttpClientFactory = Callable[[], httpx.AsyncClient]


class AnalysisWorker:
    def __init__(
        self, engine: AsyncEngine, settings: Settings, http_client: HttpClientFactory = httpx.AsyncClient
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._http_client = http_client

    async def run_once(self) -> int:
        """One turn over every database with work; returns how many runs it finished."""
        async with lookup_session(self._engine) as lookup:
            work = await pending_work(lookup, self._settings.analysis_work_batch)
        finished = 0
        for tenant_id, database_id in work:
            context = TenantContext(tenant_id=tenant_id, principal="system", database_id=database_id)
            try:
                async with tenant_session(self._engine, context) as session:
                    await check_for_changes(session, context, self._settings, database_id)
                finished += await self._drain(context, database_id)
            except Exception:
                log.exception("analysis of database %s failed; retried next turn", database_id)
        return finished

    async def _drain(self, context: TenantContext, database_id: uuid.UUID) -> int:
        finished = 0
        while (run := await self._lease(context, database_id)) is not None:
            finished += await self._analyse(context, run)
        return finished

    async def _lease(self, context: TenantContext, database_id: uuid.UUID) -> AnalysisRun | None:
        async with tenant_session(self._engine, context) as session:
            runs = AnalysisRunRepository(session, context)
            await runs.fail_exhausted(database_id)
            return await runs.lease_next(database_id, timedelta(seconds=self._settings.analysis_lease_s))

    async def _analyse(self, context: TenantContext, run: AnalysisRun) -> int:
        try:
            async with tenant_session(self._engine, context) as session:
                inputs = await gather_inputs(session, context, self._settings, run)
            if inputs.providers:
                async with self._http_client() as client:
                    chain = ProviderChain.from_configs(inputs.providers, client)
                    findings = await consult_all(inputs, chain, self._settings)
            else:
                # Rules only: no HTTP client, whose TLS context alone costs ~20 ms of CPU to build,
                # on every run that new snapshots start while ingestion needs the processor.
                findings = await consult_all(inputs, None, self._settings)
            async with tenant_session(self._engine, context) as session:
                stored = await store_results(session, context, self._settings, run, inputs, findings)
                if not stored:
                    raise LeaseLost(run.id)
        except LeaseLost:
            log.warning("analysis run %s was taken over by another worker; its results are discarded", run.id)
            return 0
        except Exception as error:
            log.exception("analysis run %s failed", run.id)
            async with tenant_session(self._engine, context) as session:
                await AnalysisRunRepository(session, context).finish(
                    run.database_id, run.id, run.attempts, status="failed", notices=[], dropped=[],
                    summary={}, error=f"{type(error).__name__}: the analysis stopped; see the server log",
                )  # fmt: skip
            return 0
        return 1


class LeaseLost(Exception):
    """The run's lease ran out and another attempt took it: this attempt's results must not land."""

    def __init__(self, run_id: uuid.UUID) -> None:
        super().__init__(f"analysis run {run_id} is no longer leased to this worker")
