"""Open pages follow the database live: a new snapshot's statements and an apply job's result show up
on a page left open, without a reload (the page is the same document throughout: a marker set on
its window survives). The server's stream polls every 0.2 s here (OPTISCHEMA_LIVE_POLL_S)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from selenium.webdriver.common.by import By

from tests.integration.control_plane.api.conftest import SeededTenant, as_user
from tests.integration.control_plane.changes.flow import (
    Shop,
    answer,
    applied_result,
    approve,
    lease,
    send,
    workload,
)
from tests.integration.dashboard.browser import assert_no_console_errors, page_wait
from tests.integration.dashboard.test_every_page import open_route
from tests.integration.dashboard.test_in_a_browser import (
    WAIT_S,
    api,
    api_settings,
    browser,
    server_url,
    sign_in,
)
from tests.integration.dashboard.walk_dataset import WalkedDatabase, walk_database

__all__ = ["api", "api_settings", "browser", "server_url"]

NEW_STATEMENT = "SELECT id FROM coupons WHERE code = $1"


def mark_document(driver: Any) -> None:
    driver.execute_script("window.__sameDocument = true;")


def same_document(driver: Any) -> bool:
    return bool(driver.execute_script("return window.__sameDocument === true;"))


def wait_live(driver: Any) -> None:
    page_wait(driver, WAIT_S).until(
        lambda d: d.find_element(By.ID, "live-state").get_attribute("data-state") == "live"
    )


def agent_of(api: TestClient, acme: SeededTenant, walked: WalkedDatabase) -> dict[str, str]:
    rotated = api.post(
        f"/api/v1/databases/{walked.database_id}/agent-token", headers=as_user(api, acme, "admin")
    )
    assert rotated.status_code == 200, rotated.text
    return {"Authorization": f"Bearer {rotated.json()['agent_token']}"}


def test_a_new_snapshot_reaches_the_open_queries_page_without_a_reload(
    browser: Any, server_url: str, api: TestClient, acme: SeededTenant
) -> None:
    walked = walk_database(api, acme)
    agent = agent_of(api, acme, walked)
    sign_in(browser, server_url, acme.emails["viewer"])
    open_route(browser, server_url, f"/databases/{walked.database_id}/queries", "#queries tbody tr")
    wait_live(browser)
    mark_document(browser)
    assert NEW_STATEMENT not in browser.find_element(By.ID, "queries").text

    snapshot = workload(datetime.now(UTC), calls=90_000, total_ms=900_000.0)  # the busiest statement now
    snapshot["statements"][0]["query"] = NEW_STATEMENT
    snapshot["statements"][0]["fingerprint"] = "c0c0c0c0c0c0c0c0"
    send(api, agent, snapshot)

    page_wait(browser, WAIT_S).until(lambda d: NEW_STATEMENT in d.find_element(By.ID, "queries").text)
    assert same_document(browser)
    assert_no_console_errors(browser)


def test_an_apply_jobs_result_reaches_the_open_recommendation_without_a_reload(
    browser: Any, server_url: str, api: TestClient, acme: SeededTenant
) -> None:
    walked = walk_database(api, acme)
    agent = agent_of(api, acme, walked)
    sign_in(browser, server_url, acme.emails["viewer"])
    route = f"/databases/{walked.database_id}/recommendations/{walked.covering_id}"
    open_route(browser, server_url, route, "#recommendation-detail .recommendation")
    wait_live(browser)
    mark_document(browser)

    def status(driver: Any) -> str:
        # Read in the page in one step: a live redraw may replace the card between two WebDriver calls.
        script = 'const c = document.querySelector("#recommendation-detail .recommendation"); return c && c.dataset.status;'
        return str(driver.execute_script(script))

    shop = Shop(acme, walked.database_id, agent, walked.covering_id)
    assert approve(api, shop).status_code == 200
    page_wait(browser, WAIT_S).until(lambda d: status(d) == "approved")
    (job,) = lease(api, shop)
    answer(api, shop, job.id, {"status": "succeeded", "result": applied_result()})

    page_wait(browser, WAIT_S).until(lambda d: status(d) == "applied")
    timeline = str(
        browser.execute_script('return document.querySelector("#recommendation-detail .timeline").innerText;')
    )
    assert "approve" in timeline and acme.emails["admin"] in timeline and "apply" in timeline
    assert same_document(browser)
    assert_no_console_errors(browser)


def test_the_audit_log_names_people_and_databases(
    browser: Any, server_url: str, api: TestClient, acme: SeededTenant
) -> None:
    walk_database(api, acme)
    sign_in(browser, server_url, acme.emails["admin"])
    open_route(browser, server_url, "/audit", "#audit tbody tr")
    table = browser.find_element(By.ID, "audit").text
    assert acme.emails["admin"] in table  # people by email, not ids
    rows = browser.find_elements(By.CSS_SELECTOR, "#audit tbody tr")
    assert any(row.find_element(By.CSS_SELECTOR, "td.database").text == "shop" for row in rows)
    assert_no_console_errors(browser)
