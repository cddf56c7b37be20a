"""The dashboard in a real (headless) Chromium: sign in, see the databases, open a recommendation
with its evidence and a query with its sparkline and plan; approve, reject and roll back changes,
analyse a database and set its maintenance window; with no script or CSP error on the way.

The browser talks to the app served by uvicorn; the tests prepare and check the state over the API
(a TestClient on the same metadata database) and play the agent's part there.

Chromium and chromedriver come from Debian (deploy/local/install_system_deps.sh); without them the
test is skipped rather than downloading a browser.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

from control_plane.app import create_app
from control_plane.changes.measured import measure_applied_changes
from control_plane.settings import Settings
from tests.integration.control_plane.analysis.conftest import run_worker
from tests.integration.control_plane.api.conftest import (
    PASSWORD,
    SeededTenant,
    as_user,
    seed_tenant,
    settings_for,
)
from tests.integration.control_plane.api.snapshots import fingerprint
from tests.integration.control_plane.api.test_agent_findings import finding, snapshot_with
from tests.integration.control_plane.changes.flow import (
    INDEX_SQL,
    Shop,
    applied_six_minutes_ago,
    lease,
    recommendation,
    run_in_app,
    send,
    shop_with_finding,
    workload,
)
from tests.integration.control_plane.changes.flow import finding as change_finding
from tests.integration.control_plane.inbox import drain_inbox_at
from tests.integration.dashboard.browser import (
    assert_no_console_errors,
    chromium,
    page_wait,
    requires_chromium,
    served,
)

pytestmark = requires_chromium
WAIT_S = 10


@pytest.fixture
def server_url(api_settings: Settings) -> Iterator[str]:
    with served(api_settings) as url:
        yield url


@pytest.fixture
def shop(metadata_url: str, server_url: str) -> SeededTenant:
    """A tenant whose database `shop` has statements, a plan and one verified recommendation."""
    tenant = seed_tenant(metadata_url, "acme")
    with httpx.Client(base_url=f"{server_url}/api/v1", trust_env=False, timeout=30) as api:
        access = api.post("/auth/login", json={"email": tenant.emails["admin"], "password": PASSWORD})
        admin = {"Authorization": f"Bearer {access.json()['access_token']}"}
        created = api.post("/databases", json={"name": "shop"}, headers=admin).json()
        agent = {"Authorization": f"Bearer {created['agent_token']}"}
        assert api.post("/agent/snapshots", json=snapshot_with(finding()), headers=agent).status_code == 202
    drain_inbox_at(metadata_url)
    return tenant


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium() as driver:
        yield driver


@pytest.fixture
def api_settings(metadata_url: str) -> Settings:
    """Measured proof on test-sized windows: 5 minutes before and after, 5 calls at least; live
    streams that poll every 0.2 s, so open pages follow changes within a second."""
    return settings_for(metadata_url, measure_window_s=300, measure_min_calls=5, live_poll_s=0.2)


@pytest.fixture
def api(api_settings: Settings) -> Iterator[TestClient]:
    """The API beside the browser's server, on the same metadata database."""
    with TestClient(create_app(api_settings)) as client:
        yield client


def sign_in(driver: Any, server_url: str, email: str) -> WebDriverWait[Any]:
    """Signs in on /login and waits for the databases page."""
    wait: WebDriverWait[Any] = page_wait(driver, WAIT_S)
    driver.get(f"{server_url}/login")
    driver.find_element(By.ID, "email").send_keys(email)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "sign-in").click()
    wait.until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#databases tbody tr")))
    return wait


def open_page(driver: Any, wait: WebDriverWait[Any], server_url: str, route: str, ready: str) -> Any:
    """Goes to the dashboard's `route` (same tab: the session stays) and waits for `ready`."""
    driver.get(f"{server_url}/#{route}")
    return wait.until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ready)))


def review(driver: Any, wait: WebDriverWait[Any], server_url: str, shop: Shop) -> Any:
    """The list of the database's recommendations, then the one recommendation, as a user gets there."""
    card = open_page(
        driver, wait, server_url, f"/databases/{shop.database_id}/recommendations", ".recommendation"
    )
    card.find_element(By.LINK_TEXT, "Review").click()
    return wait.until(
        expected_conditions.presence_of_element_located(
            (By.CSS_SELECTOR, "#recommendation-detail .recommendation")
        )
    )


def status_of(driver: Any) -> str:
    return str(
        driver.find_element(By.CSS_SELECTOR, "#recommendation-detail .recommendation").get_attribute(
            "data-status"
        )
    )


def buttons(element: Any) -> set[str]:
    """The decisions on offer: displayed buttons, less the copy buttons every reader has."""
    return {
        button.text
        for button in element.find_elements(By.CSS_SELECTOR, "button:not(.copy)")
        if button.is_displayed()
    }


def test_sign_in_list_databases_and_see_a_verified_recommendation(
    browser: Any, server_url: str, shop: SeededTenant
) -> None:
    driver = browser  # a selenium WebDriver
    wait = page_wait(driver, WAIT_S)
    driver.get(f"{server_url}/")
    wait.until(expected_conditions.url_to_be(f"{server_url}/login"))  # no session: back to sign-in

    driver.find_element(By.ID, "email").send_keys(shop.emails["admin"])
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "sign-in").click()

    row = wait.until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#databases tbody tr"))
    )
    assert "shop" in row.text
    assert driver.find_element(By.ID, "user-email").text == shop.emails["admin"]
    assert driver.find_element(By.ID, "user-role").text == "admin"
    assert driver.find_element(By.ID, "nav-audit").is_displayed()

    row.find_element(By.LINK_TEXT, "Recommendations").click()
    card = wait.until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".recommendation")))
    assert card.find_element(By.CSS_SELECTOR, ".tier-verified").text == "verified"
    assert "CREATE INDEX CONCURRENTLY orders_customer_id_status_idx" in card.text
    assert "8,291.10" in card.text and "8.07" in card.text  # the evidence: cost before and after
    assert {button.text for button in card.find_elements(By.TAG_NAME, "button")} >= {"Approve", "Reject"}

    driver.get(f"{server_url}/#/databases/{_database_id(driver)}/queries/{fingerprint(0)}")
    detail = wait.until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#query-detail .plan-tree"))
    )
    assert "Seq Scan" in detail.text
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#query-detail .chart .uplot canvas"))  # uPlot drew

    assert_no_console_errors(driver)


def _database_id(driver: Any) -> str:
    # The current route is #/databases/<id>/recommendations.
    url: str = driver.current_url
    return url.split("#/databases/", 1)[1].split("/", 1)[0]


def test_an_admin_approves_a_verified_recommendation_and_its_apply_job_is_queued(
    browser: Any, server_url: str, api: TestClient, acme: SeededTenant
) -> None:
    shop = shop_with_finding(api, acme)
    wait = sign_in(browser, server_url, acme.emails["admin"])

    card = review(browser, wait, server_url, shop)
    assert card.find_element(By.CSS_SELECTOR, ".tier-verified").text == "verified"
    assert "squawk has nothing to flag" in card.find_element(By.CSS_SELECTOR, ".lint").text
    assert buttons(card) >= {"Approve", "Reject"}
    card.find_element(By.XPATH, ".//button[text()='Approve']").click()
    dialog = wait.until(
        expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, "dialog.approve-dialog"))
    )
    assert "CREATE INDEX CONCURRENTLY" in dialog.text and "verified by HypoPG: cost" in dialog.text
    dialog.find_element(By.XPATH, ".//button[text()='Confirm approve']").click()

    wait.until(lambda driver: status_of(driver) == "approved")
    card = browser.find_element(By.CSS_SELECTOR, "#recommendation-detail .recommendation")
    assert card.find_element(By.CSS_SELECTOR, ".status").text == "approved"
    shown_job = card.find_element(By.CSS_SELECTOR, "[data-job-id]").get_attribute("data-job-id")
    assert "Approve" not in buttons(card) and "Reject" not in buttons(card)
    assert recommendation(api, shop)["status"] == "approved"
    (job,) = lease(api, shop)  # the agent's next poll hands it the apply job the page announced
    assert (str(job.id), job.kind, job.payload["sql"]) == (shown_job, "apply", INDEX_SQL)
    assert_no_console_errors(browser)


def test_an_analyst_may_reject_but_not_approve_and_sees_the_reason(
    browser: Any, server_url: str, api: TestClient, acme: SeededTenant
) -> None:
    shop = shop_with_finding(api, acme)
    wait = sign_in(browser, server_url, acme.emails["analyst"])

    card = review(browser, wait, server_url, shop)
    assert "Reject" in buttons(card) and "Approve" not in buttons(card)
    assert not browser.find_elements(By.LINK_TEXT, "Maintenance window")  # an admin's page
    card.find_element(By.XPATH, ".//button[text()='Reject']").click()
    card.find_element(By.CSS_SELECTOR, "input.reject-reason").send_keys("the orders table is being replaced")
    card.find_element(By.XPATH, ".//button[text()='Confirm reject']").click()

    wait.until(lambda driver: status_of(driver) == "rejected")
    card = browser.find_element(By.CSS_SELECTOR, "#recommendation-detail .recommendation")
    assert card.find_element(By.CSS_SELECTOR, ".status-reason").text == (
        "Rejected: the orders table is being replaced"
    )
    assert buttons(card) == set()
    found = recommendation(api, shop)
    assert (found["status"], found["status_reason"]) == ("rejected", "the orders table is being replaced")
    assert_no_console_errors(browser)


def test_the_review_shows_squawks_findings_on_the_sql(
    browser: Any, server_url: str, api: TestClient, acme: SeededTenant
) -> None:
    blocking = "CREATE INDEX orders_customer_id_status_idx ON public.orders (customer_id, status);"
    shop = shop_with_finding(api, acme, change_finding(sql=blocking))
    wait = sign_in(browser, server_url, acme.emails["viewer"])

    card = review(browser, wait, server_url, shop)

    findings = card.find_elements(By.CSS_SELECTOR, ".lint .lint-finding")
    rules = {finding.get_attribute("data-rule") for finding in findings}
    assert rules == {finding["rule"] for finding in recommendation(api, shop)["lint"]}
    assert "require-concurrent-index-creation" in rules
    assert "Use `concurrently` to avoid blocking writes." in card.find_element(By.CSS_SELECTOR, ".lint").text
    assert buttons(card) == set()  # a viewer decides nothing
    assert_no_console_errors(browser)


def test_an_applied_change_shows_its_measured_proof_and_can_be_rolled_back(
    browser: Any, server_url: str, api: TestClient, acme: SeededTenant
) -> None:
    shop = applied_six_minutes_ago(api, acme, after_ms=20.0)  # 10 ms per call before, 1 ms after
    assert run_in_app(api, lambda app: measure_applied_changes(app.engine, app.settings)) == 1
    wait = sign_in(browser, server_url, acme.emails["admin"])

    card = review(browser, wait, server_url, shop)
    assert card.find_element(By.CSS_SELECTOR, ".tier-measured").text == "measured"
    assert card.find_element(By.CSS_SELECTOR, ".status").text == "applied"
    measured = card.find_element(By.CSS_SELECTOR, ".measured")
    assert "90.0 %" in measured.text
    assert measured.find_element(By.CSS_SELECTOR, ".verdict-improved").text == "improved"
    assert card.find_element(By.CSS_SELECTOR, ".rollback-available").is_displayed()
    card.find_element(By.XPATH, ".//button[text()='Roll back']").click()
    wait.until(expected_conditions.alert_is_present()).accept()

    queued = wait.until(
        expected_conditions.presence_of_element_located(
            (By.CSS_SELECTOR, "#recommendation-detail .rollback-queued")
        )
    )
    assert "Rollback queued" in queued.text
    assert "Roll back" not in buttons(browser.find_element(By.ID, "recommendation-detail"))
    found = recommendation(api, shop)
    assert (found["status"], found["rollback_in_progress"], found["rollback_available"]) == (
        "applied",
        True,
        False,
    )
    (job,) = lease(api, shop)
    assert job.kind == "rollback"
    assert_no_console_errors(browser)


def test_analyze_now_shows_the_queued_run_and_then_its_notices(
    browser: Any, server_url: str, api: TestClient, api_settings: Settings, acme: SeededTenant
) -> None:
    shop = shop_with_finding(api, acme)
    # A statement that ran: the top queries list only what ran in the range (a 0-call row is not one).
    send(api, shop.agent, workload(datetime.now(UTC), calls=40, total_ms=120.0))
    wait = sign_in(browser, server_url, acme.emails["analyst"])
    page = open_page(browser, wait, server_url, f"/databases/{shop.database_id}/queries", "#queries")
    assert page is not None

    browser.find_element(By.XPATH, "//button[text()='Analyze now']").click()

    panel = wait.until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".analysis-run")))
    run_id = panel.get_attribute("data-run-id")
    assert panel.get_attribute("data-run-status") == "queued" and "queued" in panel.text
    run = api.get(
        f"/api/v1/databases/{shop.database_id}/analyses/{run_id}", headers=as_user(api, acme, "viewer")
    )
    assert run.json()["status"] == "queued"

    assert run_worker(api_settings) == 1  # the analysis worker's turn; the page follows the run
    done = wait.until(
        expected_conditions.presence_of_element_located(
            (By.CSS_SELECTOR, f".analysis-run[data-run-id='{run_id}'][data-run-status='succeeded']")
        )
    )
    notices = [notice.text for notice in done.find_elements(By.CSS_SELECTOR, ".run-notices li")]
    assert notices == ["no LLM provider is configured: analysed by rules only"]
    assert_no_console_errors(browser)


def test_an_admin_sets_and_clears_the_maintenance_window(
    browser: Any, server_url: str, api: TestClient, acme: SeededTenant
) -> None:
    shop = shop_with_finding(api, acme)
    window_at = f"/api/v1/databases/{shop.database_id}/maintenance-window"
    wait = sign_in(browser, server_url, acme.emails["admin"])
    form = open_page(browser, wait, server_url, "/settings", "#maintenance-window-form")
    assert "No window" in browser.find_element(By.ID, "maintenance-state").text

    for day in ("mon", "tue"):
        form.find_element(By.CSS_SELECTOR, f"input[value='{day}']").click()
    zone = form.find_element(By.NAME, "time_zone")
    zone.clear()
    zone.send_keys("Europe/Berlin")
    form.find_element(By.XPATH, ".//button[text()='Save window']").click()

    wait.until(
        expected_conditions.text_to_be_present_in_element(
            (By.ID, "maintenance-state"), "Mon, Tue, 22:00 to 04:00 (Europe/Berlin)"
        )
    )
    admin = as_user(api, acme, "admin")
    assert api.get(window_at, headers=admin).json() == {
        "days": ["mon", "tue"], "start": "22:00", "end": "04:00", "time_zone": "Europe/Berlin"
    }  # fmt: skip

    editor = browser.find_element(By.ID, "maintenance-editor")
    editor.find_element(By.XPATH, ".//button[text()='Clear window']").click()
    editor.find_element(By.XPATH, ".//button[text()='Confirm clear window']").click()
    wait.until(expected_conditions.text_to_be_present_in_element((By.ID, "maintenance-state"), "No window"))
    assert api.get(window_at, headers=admin).json() is None
    assert_no_console_errors(browser)
