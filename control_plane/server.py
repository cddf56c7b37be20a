"""optischema-control-plane: the API and dashboard with the workers, or the workers alone."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

import uvicorn
from pydantic import ValidationError

from control_plane.api.services import AppServices
from control_plane.app import background_jobs, create_app
from control_plane.auth.access_tokens import AccessTokenKeyring
from control_plane.db.engine import create_engine
from control_plane.settings import Settings, get_settings
from control_plane.workers.runner import run_periodically

log = logging.getLogger("optischema.control_plane")


async def _workers_only(settings: Settings) -> None:
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


def serve() -> None:
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = get_settings()
    except ValidationError as error:
        for problem in error.errors():
            print(f"optischema-control-plane: {problem['msg']}", file=sys.stderr)
        raise SystemExit(1) from None
    if settings.workers == "only":
        log.info("running background workers only")
        asyncio.run(_workers_only(settings))
        return
    # Client addresses behind a proxy are resolved by our own trusted-proxy rule, not uvicorn's.
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, proxy_headers=False, log_level="info"
    )
