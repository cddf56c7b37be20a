"""Prometheus metrics: request counts and latencies by route template (never by raw path)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

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


async def record_request(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    started = time.perf_counter()
    response = await call_next(request)
    template = route_template(request)
    LATENCY.labels(request.method, template).observe(time.perf_counter() - started)
    REQUESTS.labels(request.method, template, str(response.status_code)).inc()
    return response
