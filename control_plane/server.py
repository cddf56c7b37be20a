"""optischema-control-plane: the API and dashboard with the workers, or the workers alone."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import signal
import socket
import sys
from typing import Any

import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError
from uvicorn.supervisors import Multiprocess

from control_plane.api.services import AppServices
from control_plane.app import background_jobs, create_app
from control_plane.auth.access_tokens import AccessTokenKeyring
from control_plane.db.engine import create_engine
from control_plane.job_kinds import register_job_kinds
from control_plane.runtime_tuning import tune_runtime
from control_plane.settings import Settings, get_settings
from control_plane.workers.runner import run_periodically
from shared.log_setup import DEFAULT_LOG_LEVEL, configure_logging

log = logging.getLogger("optischema.control_plane")
WORKER_APP = "control_plane.server:worker_app"  # what uvicorn imports in each web worker process


def _configure_logging() -> None:
    # Read before the settings model, whose own errors must already be logged; Settings.log_level
    # declares the same variable so that it is validated and documented with the others.
    configure_logging(os.environ.get("OPTISCHEMA_LOG_LEVEL") or DEFAULT_LOG_LEVEL)


def worker_app() -> FastAPI:
    """The app of one web worker process; its settings come from the environment `serve` checked."""
    _configure_logging()
    app = create_app()
    tune_runtime()
    return app


def _pool_share(pool_size: int, workers: int) -> int:
    """Each worker's part of OPTISCHEMA_DB_POOL_SIZE, so the server as a whole keeps to it."""
    return max(2, math.ceil(pool_size / workers))


async def _workers_only(settings: Settings) -> None:
    register_job_kinds()  # what create_app does for the API: the workers queue and settle jobs too
    engine = create_engine(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    app_services = AppServices(settings, engine, AccessTokenKeyring(settings.secret_key.get_secret_value()))
    try:
        await run_periodically(background_jobs(app_services), stop)
    finally:
        await engine.dispose()


# uvicorn's compiled event loop and HTTP parser (what its `standard` extra installs), named here so
# that a missing one fails at start rather than falling back to the pure-Python ones unseen. Paired
# on one metadata database (2026-12-07, 2-core reference machine, 1,200 dashboard reads and 128
# snapshots a server, alternating): the API's CPU 11.5 -> 10.6 ms a read, 29.8 -> 28.3 ms a
# snapshot accepted.
EVENT_LOOP = "uvloop"
HTTP_PARSER = "httptools"


def _uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn serves the API, with one web worker or several."""
    # Client addresses behind a proxy are resolved by our own trusted-proxy rule, not uvicorn's.
    return {
        "host": settings.host,
        "port": settings.port,
        "proxy_headers": False,
        "log_level": "info",
        "loop": EVENT_LOOP,
        "http": HTTP_PARSER,
    }


def serve() -> None:
    _configure_logging()
    try:
        settings = get_settings()
    except ValidationError as error:
        for problem in error.errors():
            print(f"optischema-control-plane: {problem['msg']}", file=sys.stderr)
        raise SystemExit(1) from None
    if settings.workers == "only":
        log.info("running background workers only")
        tune_runtime()  # they decode and store the snapshots agents send
        asyncio.run(_workers_only(settings))
        return
    log.debug("serving on the %s event loop, parsing HTTP with %s", EVENT_LOOP, HTTP_PARSER)
    workers = settings.web_workers
    if workers == 1:
        app = create_app(settings)
        tune_runtime()
        uvicorn.run(app, **_uvicorn_options(settings))
        return
    # Every worker runs the background jobs too: each job is safe to run concurrently.
    if settings.rate_limit_storage.startswith("memory://"):
        log.warning(
            "%s web workers count rate limits each on their own: set OPTISCHEMA_RATE_LIMIT_STORAGE "
            "to a Redis URL to share the counts (or OPTISCHEMA_WEB_CONCURRENCY=1)",
            workers,
        )
    os.environ["OPTISCHEMA_DB_POOL_SIZE"] = str(_pool_share(settings.db_pool_size, workers))
    log.info("starting %s web workers", workers)
    config = uvicorn.Config(WORKER_APP, factory=True, workers=workers, **_uvicorn_options(settings))
    Multiprocess(config, sockets=[_tcp_listener(config)]).run()


def _tcp_listener(config: uvicorn.Config) -> socket.socket:
    """uvicorn's listening socket for its workers, as a TCP socket Python knows to be one.

    uvicorn binds it with `proto` 0 (https://github.com/Kludex/uvicorn/issues/3149); accepted
    connections inherit that, asyncio then leaves Nagle's algorithm on, and every keep-alive
    response after the first waits ~40 ms for the client's delayed ACK.
    """
    sock = config.bind_socket()
    if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto != socket.IPPROTO_TCP:
        sock = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
    return sock
