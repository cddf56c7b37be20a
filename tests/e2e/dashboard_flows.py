"""Dashboard states reached the way the product reaches them, for the API tests here and for browser
tests built on top: a real control plane served over HTTP (in this process, so that respx can stand in
for the LLM provider, the only thing mocked), a real monitored database with a planted workload, the
real agent as a subprocess, and the analysis worker turned by hand.

A browser test uses the fixtures by naming this module as a plugin:

    pytest_plugins = ("tests.e2e.dashboard_flows",)

    def test_superseded_card(covering_index_applied: OverlappingIndexes) -> None:
        state = covering_index_applied.dashboard
        # sign in at state.base_url as state.admin_email / state.admin_password, open
        # #/databases/<state.database_id> and look for covering_index_applied.narrow_id ...

Fixtures (each builds on the one before it):
- `dashboard`: the served control plane, its admin, a viewer and the monitored database (Dashboard);
- `order_items_shop`: the monitored database with one busy lookup on order_items (a connection);
- `overlapping_indexes`: two proposed index recommendations for that lookup, one group (OverlappingIndexes);
- `covering_index_applied`: the covering one approved and built by the agent, the narrow one superseded;
- `index_health_shop`: the monitored database with an unused and a duplicate index (a connection);
- `index_health_findings`: both listed by GET /databases/{id}/index-health (IndexHealthFindings).

The shop itself (tables, workload, index names, the model's answers) is in tests.e2e.order_items.
While `dashboard` is up, respx answers every httpx call that leaves 127.0.0.1 (the browser's own
traffic is not httpx's); `Dashboard.agent_once()` runs one agent cycle, `analyse()` one analysis.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import respx

from control_plane.settings import Settings
from tests.e2e.analysis_server import serving
from tests.e2e.conftest import (
    ADMIN_PASSWORD,
    agent_environment,
    create_tenant_admin,
    login,
    register_shop,
)
from tests.e2e.order_items import (
    COVERING_KEYS,
    DUPLICATE_INDEX,
    NARROW_KEYS,
    NO_MIN_STATS_AGE,
    UNUSED_INDEX,
    model_answering,
    plant_index_health,
    plant_order_items,
    play_busy_lookup,
)
from tests.integration.agent.conftest import run_agent
from tests.integration.control_plane.analysis.conftest import LLM_URL, openai_settings, run_worker
from tests.integration.control_plane.inbox import drain_inbox_at

VIEWER_PASSWORD = "an end-to-end viewer password, long enough"


@dataclass
class Dashboard:
    """A served control plane with one tenant, its admin and a viewer, and the monitored database
    registered. `access_token` is the admin's; `viewer_api()` signs the viewer in."""

    base_url: str
    admin_email: str
    admin_password: str
    viewer_email: str
    viewer_password: str
    access_token: str
    database_id: str
    agent_token: str
    monitored_url: str
    spool_dir: Path
    settings: Settings
    # What the mocked model proposes for statements on order_items: key lists, changeable meanwhile.
    llm_index_ideas: list[list[str]] = field(default_factory=list)
    agent_logs: list[str] = field(default_factory=list)

    def api(self, access_token: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url + "/api/v1",
            headers={"Authorization": f"Bearer {access_token or self.access_token}"},
            timeout=30.0,
            trust_env=False,
        )

    def viewer_api(self) -> httpx.Client:
        return self.api(login(self.base_url, self.viewer_email, self.viewer_password))

    def get(self, path: str) -> Any:
        with self.api() as client:
            response = client.get(path)
        assert response.status_code == 200, response.text
        return response.json()

    def recommendations(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.get(f"/databases/{self.database_id}/recommendations")
        return found

    def recommendation(self, recommendation_id: str) -> dict[str, Any]:
        [found] = [r for r in self.recommendations() if r["id"] == recommendation_id]
        return found

    def index_health(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.get(f"/databases/{self.database_id}/index-health")
        return found

    def approve(self, recommendation_id: str) -> httpx.Response:
        with self.api() as client:
            return client.post(f"/recommendations/{recommendation_id}/approve", json={})

    def agent_once(self, **overrides: str) -> None:
        """One `optischema-agent run --once` cycle: snapshot, findings if asked, signed jobs."""
        env = agent_environment(
            self.monitored_url, self.base_url, self.agent_token, self.spool_dir, **overrides
        )
        done = run_agent("run", "--once", env=env, timeout=240)
        self.agent_logs.append(done.stderr)
        assert done.returncode == 0, done.stderr[-3000:]
        drain_inbox_at(self.settings.metadata_url)  # the server runs no workers

    def analyse(self) -> dict[str, Any]:
        """An analysis run asked for over the API, then one turn of the worker, as its timer would."""
        with self.api() as client:
            asked = client.post(f"/databases/{self.database_id}/analyze", json={})
        assert asked.status_code == 202, asked.text
        assert run_worker(self.settings) >= 1
        found: dict[str, Any] = self.get(f"/databases/{self.database_id}/analyses/{asked.json()['run_id']}")
        assert found["status"] == "succeeded", found
        return found


def add_viewer(base_url: str, admin_token: str) -> str:
    """A viewer of the tenant, created by its admin over the API; the viewer's email."""
    email = f"viewer-{uuid.uuid4().hex[:8]}@e2e.example"
    created = httpx.post(
        f"{base_url}/api/v1/users",
        json={"email": email, "password": VIEWER_PASSWORD, "role": "viewer"},
        headers={"Authorization": f"Bearer {admin_token}"},
        timeout=30,
        trust_env=False,
    )
    assert created.status_code == 201, created.text
    return email


@pytest.fixture
def dashboard(metadata_url: str, db_url: str, tmp_path: Path) -> Iterator[Dashboard]:
    settings = openai_settings(metadata_url)
    email = create_tenant_admin(metadata_url)
    index_ideas: list[list[str]] = []
    with respx.mock(assert_all_called=False) as provider, serving(settings) as base_url:
        provider.route(host="127.0.0.1").pass_through()  # the calls to the control plane itself
        provider.post(LLM_URL).mock(side_effect=model_answering(index_ideas))
        access, body = register_shop(base_url, email)
        viewer = add_viewer(base_url, access)
        yield Dashboard(
            base_url=base_url,
            admin_email=email,
            admin_password=ADMIN_PASSWORD,
            viewer_email=viewer,
            viewer_password=VIEWER_PASSWORD,
            access_token=access,
            database_id=body["id"],
            agent_token=body["agent_token"],
            monitored_url=db_url,
            spool_dir=tmp_path / "spool",
            settings=settings,
            llm_index_ideas=index_ideas,
        )


@pytest.fixture
def order_items_shop(db: psycopg.Connection) -> psycopg.Connection:
    plant_order_items(db)
    play_busy_lookup(db)
    return db


@dataclass
class OverlappingIndexes:
    dashboard: Dashboard
    narrow_id: str  # order_items (product_id)
    covering_id: str  # order_items (product_id, quantity, order_id)
    group: str


def index_recommendation(listed: list[dict[str, Any]], columns: list[str]) -> dict[str, Any] | None:
    found = [
        r
        for r in listed
        if r["kind"] == "create_index" and r["table"] == "public.order_items" and r["columns"] == columns
    ]
    assert len(found) <= 1, found
    return found[0] if found else None


@pytest.fixture
def overlapping_indexes(order_items_shop: psycopg.Connection, dashboard: Dashboard) -> OverlappingIndexes:
    """The agent's advisor recommends one of the two (it never keeps both: here the narrow one, as the
    planner costs a covering index no better without a visibility map); the analysis asks the model,
    which proposes the other, and the agent proves that with HypoPG on its next cycle."""
    dashboard.agent_once(OPTISCHEMA_ADVISE_TIME_BUDGET_S="120")  # snapshot, plans and findings
    found = dashboard.recommendations()
    advised = [keys for keys in (NARROW_KEYS, COVERING_KEYS) if index_recommendation(found, keys)]
    assert len(advised) == 1, (found, dashboard.agent_logs[0][-3000:])
    dashboard.llm_index_ideas[:] = [COVERING_KEYS if advised == [NARROW_KEYS] else NARROW_KEYS]
    dashboard.analyse()
    dashboard.agent_once(OPTISCHEMA_ADVISE_EVERY_CYCLES="0")  # the proof job
    listed = dashboard.recommendations()
    narrow = index_recommendation(listed, NARROW_KEYS)
    covering = index_recommendation(listed, COVERING_KEYS)
    assert narrow is not None and covering is not None, (listed, dashboard.agent_logs[-1][-3000:])
    return OverlappingIndexes(dashboard, narrow["id"], covering["id"], covering["group"])


@pytest.fixture
def covering_index_applied(overlapping_indexes: OverlappingIndexes) -> OverlappingIndexes:
    """The covering index approved by the admin and built by the agent (--allow-apply)."""
    dashboard = overlapping_indexes.dashboard
    approved = dashboard.approve(overlapping_indexes.covering_id)
    assert approved.status_code == 200, approved.text
    dashboard.agent_once(OPTISCHEMA_ADVISE_EVERY_CYCLES="0", OPTISCHEMA_ALLOW_APPLY="true")
    return overlapping_indexes


@pytest.fixture
def index_health_shop(db: psycopg.Connection) -> psycopg.Connection:
    plant_index_health(db)
    return db


@dataclass
class IndexHealthFindings:
    dashboard: Dashboard
    unused: dict[str, Any]  # the index-health row of UNUSED_INDEX
    duplicate: dict[str, Any]  # the index-health row of DUPLICATE_INDEX


def health_row(rows: list[dict[str, Any]], index: str) -> dict[str, Any] | None:
    found = [row for row in rows if row["index"] == f"public.{index}"]
    return found[0] if found else None


@pytest.fixture
def index_health_findings(index_health_shop: psycopg.Connection, dashboard: Dashboard) -> IndexHealthFindings:
    """One agent cycle with its advisor (which judges unused indexes), then the index-health page."""
    dashboard.agent_once(**NO_MIN_STATS_AGE)
    rows = dashboard.index_health()
    unused, duplicate = health_row(rows, UNUSED_INDEX), health_row(rows, DUPLICATE_INDEX)
    assert unused is not None and duplicate is not None, (rows, dashboard.agent_logs[0][-3000:])
    return IndexHealthFindings(dashboard, unused, duplicate)
