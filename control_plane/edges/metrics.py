"""Prometheus metrics: request counts and latencies by route template (never by raw path)."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REGISTRY = CollectorRegistry()
REQUESTS = Counter(
    "optischema_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=REGISTRY
)
LATENCY = Histogram(
    "optischema_http_request_seconds", "HTTP request latency", ["method", "route"], registry=REGISTRY
)
SNAPSHOTS = Counter("optischema_snapshots_ingested_total", "Snapshots stored", ["outcome"], registry=REGISTRY)

router = APIRouter(tags=["metrics"])


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def route_template(request: Request) -> str:
    """The matched route with its prefixes, such as /api/v1/databases/{database_id}: ids stay out of labels.

    An included router's route knows only its own part of the path; the prefix is what the real
    path has in front of that part once the parameters are filled in.
    """
    route_path: str | None = getattr(request.scope.get("route"), "path", None)
    if route_path is None:
        return "unmatched"
    rendered = route_path
    for name, value in request.path_params.items():
        rendered = rendered.replace("{" + name + "}", str(value))
    path = request.url.path
    return path[: len(path) - len(rendered)] + route_path if path.endswith(rendered) else route_path


class RequestMetrics:
    """Counts and times every HTTP request by its route template. Pure ASGI: Starlette's
    `BaseHTTPMiddleware` (what `app.middleware("http")` makes) runs each request in a task group
    and passes the response body through a memory stream, ~5% of the API process's CPU for a
    dashboard read (py-spy, benchmarks/ingestion_workers' readers); here the messages go straight
    through. The latency runs to the end of the response, and a request whose handler raised is
    counted as the 500 ServerErrorMiddleware answers it with."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, send_noting_status)
        except asyncio.CancelledError:
            raise  # the server is stopping: nothing was answered, nothing to count
        except BaseException:
            self._record(scope, started, status)
            raise
        self._record(scope, started, status)

    @staticmethod
    def _record(scope: Scope, started: float, status: int) -> None:
        # The router has put the matched route in the scope by now (it updates the scope in place).
        template = route_template(Request(scope))
        LATENCY.labels(scope["method"], template).observe(time.perf_counter() - started)
        REQUESTS.labels(scope["method"], template, str(status)).inc()
