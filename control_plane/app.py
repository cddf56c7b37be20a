"""The FastAPI app factory: domains under /api/v1, edges around them, workers beside them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from slowapi.errors import RateLimitExceeded
from starlette.types import ASGIApp

from control_plane.analysis.endpoints import router as analysis_router
from control_plane.analysis.endpoints import settings_router as llm_settings_router
from control_plane.analysis.worker import AnalysisWorker
from control_plane.api.services import AppServices
from control_plane.audit.endpoints import router as audit_router
from control_plane.auth.access_tokens import AccessTokenKeyring
from control_plane.auth.endpoints import router as auth_router
from control_plane.benchmarks.automatic import queue_automatic_benchmarks
from control_plane.benchmarks.endpoints import router as benchmarks_router
from control_plane.changes.endpoints import database_router as changes_database_router
from control_plane.changes.endpoints import recommendation_router as changes_router
from control_plane.changes.measured import measure_applied_changes
from control_plane.dashboard.routes import router as dashboard_router
from control_plane.databases.endpoints import router as databases_router
from control_plane.db.availability import DATABASE_ERRORS, as_unavailable
from control_plane.db.engine import create_engine
from control_plane.edges.health import router as health_router
from control_plane.edges.metrics import RequestMetrics
from control_plane.edges.metrics import router as metrics_router
from control_plane.edges.rate_limit import configure_limiter, limiter
from control_plane.edges.security_headers import SecurityHeaders, security_headers
from control_plane.heatmap.endpoints import router as heatmap_router
from control_plane.index_health.endpoints import router as index_health_router
from control_plane.ingestion.daily_folds import fold_daily_rollups
from control_plane.ingestion.endpoints import router as ingestion_router
from control_plane.ingestion.inbox_worker import store_inbox
from control_plane.job_kinds import register_job_kinds
from control_plane.jobs.endpoints import agent_router as agent_jobs_router
from control_plane.jobs.endpoints import user_router as jobs_router
from control_plane.live.endpoints import router as live_router
from control_plane.notifications.delivery import deliver_due_webhooks
from control_plane.notifications.endpoints import router as webhooks_router
from control_plane.overview.endpoints import router as overview_router
from control_plane.queries.endpoints import router as queries_router
from control_plane.queries.running_totals import maintain_running_totals
from control_plane.recommendations.endpoints import router as recommendations_router
from control_plane.settings import Settings, get_settings
from control_plane.signing.endpoints import router as signing_router
from control_plane.signing.service import JobSigningKeys
from control_plane.users.endpoints import router as users_router
from control_plane.workers.partitions import maintain_partitions
from control_plane.workers.runner import PeriodicJob, run_periodically
from shared.version import PRODUCT_VERSION

API_PREFIX = "/api/v1"
log = logging.getLogger(__name__)


def background_jobs(app_services: AppServices) -> list[PeriodicJob]:
    settings = app_services.settings
    return [
        # Snapshots accepted by POST /agent/snapshots, stored until none is left, then a short wait.
        PeriodicJob(
            "snapshot-inbox",
            settings.snapshot_inbox_interval_s,
            lambda: store_inbox(app_services.engine, settings),
        ),
        PeriodicJob(
            "partitions",
            3600.0,
            lambda: maintain_partitions(app_services.engine, settings.statement_stats_retention_days),
        ),
        # The hours that are over, folded from the hourly into the daily rollups.
        PeriodicJob(
            "daily-rollups",
            settings.daily_fold_interval_s,
            lambda: fold_daily_rollups(app_services.engine),
        ),
        # Prefix sums of the daily rollups, which long ranges read instead of every day's rows.
        PeriodicJob(
            "running-totals",
            settings.running_totals_interval_s,
            lambda: maintain_running_totals(app_services.engine, settings),
        ),
        # Rotation's automatic step (a `next` key past its grace period becomes active) and a retry
        # of the start-up key generation should the metadata database have been down then.
        PeriodicJob("signing-keys", 300.0, JobSigningKeys(app_services.engine, settings).ensure),
        PeriodicJob(
            "analysis", settings.analysis_interval_s, AnalysisWorker(app_services.engine, settings).run_once
        ),
        # Each new verified index timed on its agent's sandbox before anyone approves it (issue 16).
        PeriodicJob(
            "automatic-benchmarks",
            settings.benchmark_automatic_interval_s,
            lambda: queue_automatic_benchmarks(app_services.engine, settings),
        ),
        PeriodicJob(
            "measured-proof",
            settings.measure_interval_s,
            lambda: measure_applied_changes(app_services.engine, settings),
        ),
        PeriodicJob(
            "webhook-deliveries",
            settings.webhook_delivery_interval_s,
            lambda: deliver_due_webhooks(app_services.engine, settings),
        ),
    ]


class ControlPlaneApp(FastAPI):
    """FastAPI with the security headers wrapped around its whole stack (see edges.security_headers)."""

    def __init__(self, *, response_headers: Mapping[str, str], **kwargs: Any) -> None:
        self._response_headers = dict(response_headers)
        super().__init__(**kwargs)

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack(), self._response_headers)


def create_app(settings: Settings | None = None, *, run_workers: bool | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_limiter(settings)
    register_job_kinds()
    workers_on = settings.workers == "on" if run_workers is None else run_workers

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings)
        app_services = AppServices(
            settings=settings,
            engine=engine,
            keyring=AccessTokenKeyring(settings.secret_key.get_secret_value()),
        )
        app.state.services = app_services
        app.state.job_signing_keys = JobSigningKeys(engine, settings)
        await app.state.job_signing_keys.ensure_at_start()
        stop = asyncio.Event()
        workers = (
            asyncio.create_task(run_periodically(background_jobs(app_services), stop)) if workers_on else None
        )
        try:
            yield
        finally:
            stop.set()
            if workers is not None:
                await workers
            await engine.dispose()

    app = ControlPlaneApp(
        title="OptiSchema control plane",
        version=PRODUCT_VERSION,
        lifespan=lifespan,
        response_headers=security_headers(development=settings.env == "development"),
    )
    app.state.limiter = limiter
    app.add_exception_handler(RateLimitExceeded, _rate_limited)  # type: ignore[arg-type]
    unavailable = _metadata_unavailable_handler(settings.unavailable_retry_after_s)
    for database_error in DATABASE_ERRORS:
        app.add_exception_handler(database_error, unavailable)
    app.add_middleware(RequestMetrics)
    if settings.cors_origins:  # closed unless explicit origins are configured
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    for router in (
        auth_router,
        users_router,
        databases_router,
        queries_router,
        ingestion_router,
        agent_jobs_router,
        signing_router,
        jobs_router,
        recommendations_router,
        changes_router,
        changes_database_router,
        benchmarks_router,
        webhooks_router,
        audit_router,
        analysis_router,
        llm_settings_router,
        overview_router,
        index_health_router,
        live_router,
        heatmap_router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(health_router)
    app.include_router(metrics_router)
    app.include_router(dashboard_router)
    return app


async def _rate_limited(request: Request, error: RateLimitExceeded) -> JSONResponse:
    return JSONResponse(
        {"detail": f"rate limit exceeded: {error.detail}"}, status_code=429, headers={"Retry-After": "60"}
    )


def _metadata_unavailable_handler(
    retry_after_s: int,
) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    """503 with Retry-After for the metadata database being away, wherever a request met it; any
    other database error is re-raised, i.e. stays the 500 it is."""

    async def handle(request: Request, error: Exception) -> JSONResponse:
        found = as_unavailable(error)
        if found is None:
            raise error
        log.warning(
            "%s %s: the metadata database is unavailable (%s)", request.method, request.url.path, found.reason
        )
        return JSONResponse(
            {"detail": "the service is temporarily unavailable; retry later", "code": "metadata_unavailable"},
            status_code=503,
            headers={"Retry-After": str(retry_after_s)},
        )

    return handle
