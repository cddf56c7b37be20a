"""A benchmark nobody asked for, as a person reads it on the recommendation's page: its timeline says
the benchmark was started automatically and the verdict came from the agent, naming the moves rather
than the status they left alone (both are `proposed`); the card's size and build time are the real
ones from the sandbox, and each timed statement is named by its text."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from control_plane.api.services import AppServices
from control_plane.benchmarks.automatic import queue_automatic_benchmarks
from tests.integration.control_plane.api.conftest import SeededTenant, as_user
from tests.integration.control_plane.benchmarks.test_benchmark_api import heartbeat, timed
from tests.integration.control_plane.changes.flow import Shop, answer, lease, run_in_app
from tests.integration.dashboard.browser import assert_no_console_errors
from tests.integration.dashboard.test_every_page import open_route
from tests.integration.dashboard.test_in_a_browser import api, api_settings, browser, server_url, sign_in
from tests.integration.dashboard.test_live_pages import agent_of
from tests.integration.dashboard.walk_dataset import walk_database

__all__ = ["api", "api_settings", "browser", "server_url"]


def test_an_automatic_benchmark_reads_as_one_on_the_timeline(
    browser: Any, server_url: str, api: TestClient, acme: SeededTenant
) -> None:
    walked = walk_database(api, acme)
    agent = agent_of(api, acme, walked)
    shop = Shop(acme, walked.database_id, agent, walked.covering_id)
    heartbeat(api, shop, sandbox=True)

    def queue(services: AppServices) -> Any:
        return queue_automatic_benchmarks(services.engine, services.settings)

    assert run_in_app(api, queue) == 1
    (job,) = lease(api, shop)
    answer(api, shop, job.id, {"status": "succeeded", "result": timed(12.1, 0.4, plan_changed=True)})
    listed = api.get(
        f"/api/v1/databases/{walked.database_id}/recommendations", headers=as_user(api, acme, "viewer")
    ).json()
    [benchmarked] = [r["id"] for r in listed if (r["benchmark"] or {}).get("verdict") == "benchmarked"]

    sign_in(browser, server_url, acme.emails["viewer"])
    route = f"/databases/{walked.database_id}/recommendations/{benchmarked}"
    open_route(browser, server_url, route, "#recommendation-detail .timeline")
    timeline = str(
        browser.execute_script('return document.querySelector("#recommendation-detail .timeline").innerText;')
    )
    assert "benchmark automatically" in timeline, timeline
    assert "benchmarked by the agent" in timeline, timeline

    risk = str(
        browser.execute_script('return document.querySelector("#recommendation-detail .risk").innerText;')
    )
    assert "Size: 2.1 MB (built on the sandbox)" in risk, risk  # the real 2,201,600 bytes, not HypoPG's
    assert "on the sandbox" in risk.split("Build:")[1], risk
    detail = api.get(f"/api/v1/recommendations/{benchmarked}", headers=as_user(api, acme, "viewer")).json()
    texts = {q["fingerprint"]: q["query"] for q in detail["queries"]}
    [timed_fingerprint] = [s["fingerprint"] for s in detail["benchmark"]["statements"]]
    named = str(
        browser.execute_script(
            'return document.querySelector("#recommendation-detail .benchmark tbody td code").innerText;'
        )
    )
    assert named == texts.get(timed_fingerprint, timed_fingerprint), named
    assert_no_console_errors(browser)
