"""The one helper for tests that send snapshots and then read them: store what the inbox holds.

POST /agent/snapshots answers 202 and a worker stores the snapshot later. An in-process app in the
tests runs no workers (`workers="off"`), so a test stores the inbox itself, right after sending, in
the app's own event loop and engine, through the code the workers run.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from control_plane.api.services import AppServices
from control_plane.ingestion.inbox_worker import store_inbox


def drain_inbox(client: TestClient) -> int:
    """Stores every snapshot accepted so far; returns how many were taken from the inbox."""
    app = client.app
    assert isinstance(app, FastAPI)
    app_services: AppServices = app.state.services
    return client.portal.call(store_inbox, app_services.engine, app_services.settings)  # type: ignore[union-attr]
