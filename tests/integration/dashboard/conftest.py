"""The dashboard as a browser meets it: pages and assets over HTTP, and the API calls its scripts make.

Pages and assets need no database, so `pages` is an app whose lifespan never runs; the signed-in
flow uses the API test fixtures (a migrated metadata database, seeded tenants).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from control_plane.app import create_app
from control_plane.dashboard.routes import STATIC_DIR
from deploy.dashboard_vendor import read_manifest
from tests.integration.control_plane.api.conftest import acme, client, settings_for

__all__ = ["acme", "client"]

# Third-party files (uPlot) are the pinned npm releases, checked by tests/unit/deploy/test_dashboard_vendor.py;
# the rules below are for the dashboard's own code.
VENDORED = {name for package in read_manifest().packages for name in package.files.values()}
SCRIPTS = sorted(path for path in STATIC_DIR.glob("*.js") if path.name not in VENDORED)
PAGES = sorted(STATIC_DIR.glob("*.html"))
STYLESHEETS = sorted(path for path in STATIC_DIR.glob("*.css") if path.name not in VENDORED)
# api("GET", `/databases/${...}/queries?...`) -> ("GET", "/databases/${...}/queries?...")
API_CALL = re.compile(r"""\bapi\(\s*"([A-Z]+)",\s*[`"]([^`"]+)[`"]""")


@pytest.fixture
def pages() -> Iterator[TestClient]:
    """The app without its lifespan: enough for static responses, no metadata database needed."""
    app = create_app(settings_for("postgresql://nobody@127.0.0.1:1/none"))
    yield TestClient(app, base_url="http://127.0.0.1:8000")


def api_calls() -> list[tuple[Path, str, str]]:
    return [
        (script, method, path) for script in SCRIPTS for method, path in API_CALL.findall(script.read_text())
    ]
