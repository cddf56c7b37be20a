"""The API fixtures (an app on a migrated metadata database, seeded tenants), and an app whose
measured proof and webhooks run on test-sized windows."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from control_plane.app import create_app
from tests.integration.control_plane.api.conftest import acme, client, globex, settings_for

__all__ = ["acme", "client", "globex"]


@pytest.fixture
def measuring(metadata_url: str) -> Iterator[TestClient]:
    settings = settings_for(
        metadata_url,
        measure_window_s=300,
        measure_min_calls=5,
        allow_private_outbound=True,  # the webhook receiver listens on loopback
        webhook_backoff_s=0,
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client
