"""The one helper for tests that send snapshots and then read them: store what the inbox holds.

POST /agent/snapshots answers 202 and a worker stores the snapshot later. The apps and servers of
most tests run no workers (`OPTISCHEMA_WORKERS=off`), so a test stores the inbox itself, right
after sending, through the code the workers run: `drain_inbox(client)` in an in-process app's own
event loop and engine, `drain_inbox_at(metadata_url)` beside a server process. The daily rollups
get the hours that are over from a job as well: `fold_days(client, now)`.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from fastapi import FastAPI
from fastapi.testclient import TestClient

from control_plane.api.services import AppServices
from control_plane.db.engine import create_engine
from control_plane.db.session import lookup_session
from control_plane.ingestion.daily_folds import fold_daily_rollups
from control_plane.ingestion.inbox import tenants_with_inbox
from control_plane.ingestion.inbox_worker import store_inbox
from control_plane.settings import Settings


def _services(client: TestClient) -> AppServices:
    app = client.app
    assert isinstance(app, FastAPI)
    app_services: AppServices = app.state.services
    return app_services


def drain_inbox(client: TestClient) -> int:
    """Stores every snapshot accepted so far; returns how many were taken from the inbox."""
    app_services = _services(client)
    return client.portal.call(store_inbox, app_services.engine, app_services.settings)  # type: ignore[union-attr]


def fold_days(client: TestClient, now: datetime) -> int:
    """Runs the daily-rollups job as of `now` (hours before its hour are folded); returns how many
    databases had hours to fold."""
    return client.portal.call(fold_daily_rollups, _services(client).engine, now)  # type: ignore[union-attr]


def drain_inbox_at(metadata_url: str, timeout_s: float = 60.0, **overrides: object) -> int:
    """The same for a server in another process: stored from this one, over its own connection
    (with these settings, e.g. `metadata_statement_cache=False` behind PgBouncer). Returns once no
    entry is due, including those a server's own workers were storing meanwhile."""
    settings = Settings(metadata_url=metadata_url, env="development", workers="off", **overrides)  # type: ignore[arg-type]

    async def drain() -> int:
        engine = create_engine(settings, pool_size=1, max_overflow=0)
        deadline = asyncio.get_running_loop().time() + timeout_s
        try:
            stored = 0
            while True:
                stored += await store_inbox(engine, settings)
                async with lookup_session(engine) as session:
                    if not await tenants_with_inbox(session):
                        return stored
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError("the snapshot inbox did not empty")
                await asyncio.sleep(0.05)  # another process holds an entry: its worker is storing it
        finally:
            await engine.dispose()

    return asyncio.run(drain())
