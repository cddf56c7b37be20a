"""The Settings page (#/settings) in a real (headless) Chromium: an admin adds a user, changes their
role and disables them, rotates an agent token and gets the command to run the agent, sets a
maintenance window in the browser's own time zone and finds it after a reload, and reads the analysis
history with its notices and dropped suggestions; a viewer sees only their account and what they
may read. Every form fits a 390 px screen, and no script or CSP error shows in the console.

The browser's time zone is set through TZ (Asia/Tokyo: not UTC, and the same name in ICU and in tzdata), so the
default the page offers is seen to be the browser's and not the server's.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from control_plane.app import create_app
from tests.integration.control_plane.api.conftest import PASSWORD, SeededTenant, as_user, settings_for
from tests.integration.dashboard.browser import (
    assert_no_console_errors,
    chromium,
    page_wait,
    requires_chromium,
    served,
)

pytestmark = requires_chromium
WAIT_S = 10
BROWSER_TIME_ZONE = "Asia/Tokyo"
PHONE = (390, 844)  # the narrowest screen the dashboard is made for, in CSS pixels
NEW_PASSWORD = "a long enough password for a new colleague"
PUBLIC_URL = "https://optischema.example.com"  # where agents reach the control plane


@pytest.fixture
def server_url(metadata_url: str) -> Iterator[str]:
    with served(settings_for(metadata_url, public_url=PUBLIC_URL, allow_private_outbound=True)) as url:
        yield url


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium(time_zone=BROWSER_TIME_ZONE) as driver:
        yield driver


@pytest.fixture
def api(metadata_url: str) -> Iterator[TestClient]:
    """The API beside the browser's server, on the same metadata database."""
    with TestClient(create_app(settings_for(metadata_url))) as client:
        yield client


@pytest.fixture
def shop(api: TestClient, acme: SeededTenant) -> dict[str, str]:
    """The tenant's database `shop`, with the agent token it was created with."""
    created = api.post("/api/v1/databases", json={"name": "shop"}, headers=as_user(api, acme, "admin"))
    assert created.status_code == 201
    return dict(created.json())


def open_settings(driver: Any, server_url: str, email: str) -> WebDriverWait[Any]:
    """Signs in on /login, then opens #/settings in the same tab (the session stays)."""
    wait: WebDriverWait[Any] = page_wait(driver, WAIT_S)
    driver.get(f"{server_url}/login")
    driver.find_element(By.ID, "email").send_keys(email)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "sign-in").click()
    wait.until(lambda d: not d.current_url.startswith(f"{server_url}/login"))
    driver.get(f"{server_url}/#/settings")
    try:
        wait.until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#settings #settings-account"))
        )
    except TimeoutException:
        shown = driver.execute_script("return document.getElementById('view').innerText")
        raise AssertionError(f"no settings page: {shown!r}, console: {driver.get_log('browser')}") from None
    return wait


def section(driver: Any, key: str) -> Any:
    return driver.find_element(By.ID, f"settings-{key}")


def assert_fits_a_phone(driver: Any) -> None:
    """At 390 px no settings card is wider than the screen: wide tables scroll inside their box."""
    driver.set_window_size(*PHONE)
    overflowing = driver.execute_script(
        """
        const width = document.documentElement.clientWidth;
        return [...document.querySelectorAll('#settings .settings-card')]
          .filter((card) => card.getBoundingClientRect().right > width + 1 || card.scrollWidth > card.clientWidth + 1)
          .map((card) => card.id);
        """
    )
    assert overflowing == []


def assert_every_field_labelled(driver: Any) -> None:
    unlabelled = driver.execute_script(
        """
        return [...document.querySelectorAll('#settings input, #settings select')]
          .filter((field) => field.labels.length === 0 && !field.getAttribute('aria-label'))
          .map((field) => field.name);
        """
    )
    assert unlabelled == []


def login_status(api: TestClient, email: str, password: str) -> int:
    return int(api.post("/api/v1/auth/login", json={"email": email, "password": password}).status_code)


def me(api: TestClient, email: str, password: str) -> dict[str, Any]:
    access = api.post("/api/v1/auth/login", json={"email": email, "password": password}).json()
    return dict(api.get("/api/v1/me", headers={"Authorization": f"Bearer {access['access_token']}"}).json())


def test_an_admin_adds_a_user_changes_their_role_and_disables_them(
    browser: Any, server_url: str, api: TestClient, acme: SeededTenant, shop: dict[str, str]
) -> None:
    wait = open_settings(browser, server_url, acme.emails["admin"])
    users = wait.until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#users tbody tr")))
    assert users is not None
    email = "new.colleague@acme.example"

    form = section(browser, "users").find_element(By.ID, "create-user")
    form.find_element(By.NAME, "email").send_keys(email)
    form.find_element(By.NAME, "password").send_keys(NEW_PASSWORD)
    Select(form.find_element(By.NAME, "role")).select_by_value("viewer")
    form.find_element(By.XPATH, ".//button[text()='Add user']").click()
    row_at = (By.CSS_SELECTOR, f"#users tr[data-email='{email}']")
    wait.until(expected_conditions.presence_of_element_located(row_at))
    assert me(api, email, NEW_PASSWORD)["role"] == "viewer"

    Select(browser.find_element(*row_at).find_element(By.NAME, "role")).select_by_value("analyst")
    wait.until(lambda d: me(api, email, NEW_PASSWORD)["role"] == "analyst")
    wait.until(
        lambda d: (
            Select(d.find_element(*row_at).find_element(By.NAME, "role")).first_selected_option.text
            == "analyst"
        )
    )

    browser.find_element(*row_at).find_element(By.XPATH, ".//button[text()='Disable']").click()
    browser.find_element(*row_at).find_element(By.XPATH, ".//button[text()='Confirm disable']").click()
    state_at = (By.CSS_SELECTOR, f"#users tr[data-email='{email}'] .user-state")
    wait.until(expected_conditions.text_to_be_present_in_element(state_at, "disabled"))
    assert login_status(api, email, NEW_PASSWORD) == 401
    own_row = browser.find_element(By.CSS_SELECTOR, f"#users tr[data-email='{acme.emails['admin']}']")
    assert not own_row.find_elements(By.XPATH, ".//button[text()='Disable']")  # nobody locks themselves out
    assert not own_row.find_element(By.NAME, "role").is_enabled()
    assert_every_field_labelled(browser)
    assert_fits_a_phone(browser)
    assert_no_console_errors(browser)


def test_an_admin_rotates_an_agent_token_and_gets_the_command_to_run_the_agent(
    browser: Any, server_url: str, api: TestClient, acme: SeededTenant, shop: dict[str, str]
) -> None:
    wait = open_settings(browser, server_url, acme.emails["admin"])
    row = wait.until(
        expected_conditions.presence_of_element_located(
            (By.CSS_SELECTOR, "#settings-databases tr[data-name='shop']")
        )
    )

    row.find_element(By.XPATH, ".//button[text()='Rotate token']").click()
    row.find_element(By.XPATH, ".//button[text()='Rotate now']").click()

    token = wait.until(expected_conditions.presence_of_element_located((By.ID, "agent-token"))).text
    assert token and token != shop["agent_token"]
    with httpx.Client(base_url=f"{server_url}/api/v1", trust_env=False, timeout=30) as agent_api:
        old = agent_api.post(
            "/agent/heartbeat", json={}, headers={"Authorization": f"Bearer {shop['agent_token']}"}
        )
        new = agent_api.post("/agent/heartbeat", json={}, headers={"Authorization": f"Bearer {token}"})
    assert old.status_code == 401 and new.status_code != 401
    command = browser.find_element(By.ID, "agent-command").text
    assert command.startswith("docker run") and token in command
    assert PUBLIC_URL in command and "127.0.0.1" not in command  # not the address the browser came to
    assert browser.find_element(
        By.XPATH, "//*[@id='agent-token-panel']//button[text()='Copy command']"
    ).is_displayed()
    assert_fits_a_phone(browser)
    assert_no_console_errors(browser)


def test_an_admin_sets_a_maintenance_window_in_the_browsers_time_zone_and_finds_it_after_a_reload(
    browser: Any, server_url: str, api: TestClient, acme: SeededTenant, shop: dict[str, str]
) -> None:
    wait = open_settings(browser, server_url, acme.emails["admin"])
    form = wait.until(expected_conditions.presence_of_element_located((By.ID, "maintenance-window-form")))
    assert "No window" in browser.find_element(By.ID, "maintenance-state").text
    assert form.find_element(By.NAME, "time_zone").get_attribute("value") == BROWSER_TIME_ZONE

    for day in ("mon", "wed"):
        form.find_element(By.CSS_SELECTOR, f"input[value='{day}']").click()
    for name, value in (("start", "23:15"), ("end", "05:45")):  # time pickers: typing is locale-bound
        browser.execute_script(
            "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input', {bubbles: true}));",
            form.find_element(By.NAME, name),
            value,
        )
    form.find_element(By.XPATH, ".//button[text()='Save window']").click()
    wait.until(
        expected_conditions.text_to_be_present_in_element(
            (By.ID, "maintenance-state"), f"Mon, Wed, 23:15 to 05:45 ({BROWSER_TIME_ZONE})"
        )
    )
    stored = api.get(
        f"/api/v1/databases/{shop['id']}/maintenance-window", headers=as_user(api, acme, "admin")
    )
    assert stored.json() == {
        "days": ["mon", "wed"],
        "start": "23:15",
        "end": "05:45",
        "time_zone": BROWSER_TIME_ZONE,
    }

    browser.refresh()
    form = wait.until(expected_conditions.presence_of_element_located((By.ID, "maintenance-window-form")))
    checked = [box.get_attribute("value") for box in form.find_elements(By.NAME, "day") if box.is_selected()]
    assert checked == ["mon", "wed"]
    assert [
        form.find_element(By.NAME, name).get_attribute("value") for name in ("start", "end", "time_zone")
    ] == [
        "23:15",
        "05:45",
        BROWSER_TIME_ZONE,
    ]
    assert form.find_element(By.CSS_SELECTOR, "input[type='time'][name='start']")
    assert_every_field_labelled(browser)
    assert_fits_a_phone(browser)
    assert_no_console_errors(browser)


def finished_run(metadata_url: str, tenant: SeededTenant, database_id: str) -> uuid.UUID:
    """A finished analysis run as the analyser records one: a notice and a dropped suggestion."""
    run_id = uuid.uuid4()
    dropped = [
        {
            "fingerprint": "abc123",
            "kind": "drop_table",
            "reason": "not on the allow-list: only CREATE INDEX CONCURRENTLY may be suggested",
            "sql": "DROP TABLE orders",
        }
    ]
    with psycopg.connect(metadata_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO analysis_runs (tenant_id, id, database_id, trigger, status, attempts, notices,"
            " dropped, started_at, finished_at) VALUES (%s, %s, %s, 'manual', 'succeeded', 1, %s, %s, now(), now())",
            [
                tenant.id,
                run_id,
                database_id,
                json.dumps(["LLM budget used up: analysed by rules only"]),
                json.dumps(dropped),
            ],
        )
    return run_id


def test_the_analysis_history_shows_each_runs_notices_and_every_dropped_suggestions_reason(
    browser: Any, server_url: str, metadata_url: str, acme: SeededTenant, shop: dict[str, str]
) -> None:
    run_id = finished_run(metadata_url, acme, shop["id"])
    wait = open_settings(browser, server_url, acme.emails["viewer"])

    run = wait.until(
        expected_conditions.presence_of_element_located(
            (By.CSS_SELECTOR, f".analysis-history-run[data-run-id='{run_id}']")
        )
    )
    assert [notice.text for notice in run.find_elements(By.CSS_SELECTOR, ".run-notices li")] == [
        "LLM budget used up: analysed by rules only"
    ]
    assert run.find_element(By.CSS_SELECTOR, ".run-dropped .dropped-reason").text == (
        "not on the allow-list: only CREATE INDEX CONCURRENTLY may be suggested"
    )
    assert "DROP TABLE orders" in run.find_element(By.CSS_SELECTOR, ".run-dropped").text
    wait.until(lambda d: "No suggestions kept." in run.find_element(By.CSS_SELECTOR, ".run-kept").text)
    assert_no_console_errors(browser)


def test_a_viewer_sees_their_account_and_what_they_may_read_but_nothing_to_manage(
    browser: Any, server_url: str, acme: SeededTenant, shop: dict[str, str]
) -> None:
    wait = open_settings(browser, server_url, acme.emails["viewer"])
    wait.until(
        expected_conditions.presence_of_element_located(
            (By.CSS_SELECTOR, "#settings-databases tr[data-name='shop']")
        )
    )

    assert browser.find_element(By.ID, "account-email").text == acme.emails["viewer"]
    assert browser.find_element(By.ID, "change-password").is_displayed()
    present = {card.get_attribute("id") for card in browser.find_elements(By.CSS_SELECTOR, ".settings-card")}
    assert present == {"settings-account", "settings-databases", "settings-analyses"}
    row = browser.find_element(By.CSS_SELECTOR, "#settings-databases tr[data-name='shop']")
    labels = {button.get_attribute("textContent") for button in row.find_elements(By.TAG_NAME, "button")}
    assert labels <= {"Copy command"}  # the agent's command with <token>, but no rotate, no delete
    assert not browser.find_elements(By.ID, "settings-add-database")
    assert_every_field_labelled(browser)
    assert_fits_a_phone(browser)
    assert_no_console_errors(browser)


def test_an_admin_sets_the_llm_provider_and_budget_and_sees_this_months_use(
    browser: Any, server_url: str, api: TestClient, acme: SeededTenant
) -> None:
    wait = open_settings(browser, server_url, acme.emails["admin"])
    form = wait.until(expected_conditions.presence_of_element_located((By.ID, "llm-settings")))
    assert "0 of" in browser.find_element(By.ID, "llm-usage").text

    Select(form.find_element(By.NAME, "provider")).select_by_value("none")
    form.find_element(By.NAME, "monthly_token_budget").send_keys("5000")
    form.find_element(By.XPATH, ".//button[text()='Save LLM settings']").click()
    wait.until(expected_conditions.text_to_be_present_in_element((By.ID, "llm-usage"), "0 of 5,000 tokens"))
    saved = api.get("/api/v1/settings/llm", headers=as_user(api, acme, "admin")).json()
    assert (saved["provider"], saved["source"], saved["monthly_token_budget"]) == ("none", "tenant", 5000)

    browser.refresh()
    form = wait.until(expected_conditions.presence_of_element_located((By.ID, "llm-settings")))
    assert (
        Select(form.find_element(By.NAME, "provider")).first_selected_option.get_attribute("value") == "none"
    )
    assert form.find_element(By.NAME, "monthly_token_budget").get_attribute("value") == "5000"
    assert_no_console_errors(browser)


def failed_delivery(metadata_url: str, tenant: SeededTenant, webhook_id: str) -> None:
    """A delivery the receiver refused three times, as the delivery worker records one."""
    with psycopg.connect(metadata_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO webhook_deliveries (tenant_id, id, webhook_id, event, dedupe_key, payload, status,"
            " attempts, last_status_code, last_error) VALUES (%s, %s, %s, 'recommendation.applied', 'k1',"
            " '{}', 'failed', 3, 500, 'the receiver answered 500')",
            [tenant.id, uuid.uuid4(), webhook_id],
        )


def test_an_admin_adds_a_webhook_reads_its_deliveries_and_deletes_it(
    browser: Any, server_url: str, api: TestClient, metadata_url: str, acme: SeededTenant
) -> None:
    wait = open_settings(browser, server_url, acme.emails["admin"])
    form = wait.until(expected_conditions.presence_of_element_located((By.ID, "create-webhook")))
    form.find_element(By.NAME, "url").send_keys("http://127.0.0.1:9/hooks/optischema")
    form.find_element(By.CSS_SELECTOR, "input[value='recommendation.ready']").click()  # all but this one
    form.find_element(By.XPATH, ".//button[text()='Add webhook']").click()

    secret = wait.until(expected_conditions.presence_of_element_located((By.ID, "webhook-secret"))).text
    item = browser.find_element(By.CSS_SELECTOR, "#webhooks .webhook")
    webhook_id = item.get_attribute("data-webhook-id")
    (stored,) = api.get("/api/v1/webhooks", headers=as_user(api, acme, "admin")).json()
    assert secret and stored["id"] == webhook_id and "recommendation.ready" not in stored["events"]
    failed_delivery(metadata_url, acme, str(webhook_id))

    item.find_element(By.TAG_NAME, "summary").click()
    delivery = wait.until(
        expected_conditions.presence_of_element_located(
            (By.CSS_SELECTOR, ".webhook .deliveries tr[data-delivery-status='failed']")
        )
    )
    assert "HTTP 500" in delivery.text and "the receiver answered 500" in delivery.text

    item.find_element(By.XPATH, ".//button[text()='Delete']").click()
    item.find_element(By.XPATH, ".//button[text()='Confirm delete']").click()
    wait.until(expected_conditions.invisibility_of_element_located((By.CSS_SELECTOR, "#webhooks .webhook")))
    assert api.get("/api/v1/webhooks", headers=as_user(api, acme, "admin")).json() == []
    assert_fits_a_phone(browser)
    assert_no_console_errors(browser)


def test_a_viewer_changes_their_password_and_stays_signed_in(
    browser: Any, server_url: str, api: TestClient, acme: SeededTenant
) -> None:
    wait = open_settings(browser, server_url, acme.emails["viewer"])
    form = browser.find_element(By.ID, "change-password")
    form.find_element(By.NAME, "current_password").send_keys(PASSWORD)
    form.find_element(By.NAME, "new_password").send_keys(NEW_PASSWORD)
    form.find_element(By.NAME, "new_password_again").send_keys(NEW_PASSWORD)
    form.find_element(By.XPATH, ".//button[text()='Change password']").click()

    wait.until(
        expected_conditions.text_to_be_present_in_element((By.ID, "change-password"), "Password changed")
    )
    assert login_status(api, acme.emails["viewer"], PASSWORD) == 401
    assert me(api, acme.emails["viewer"], NEW_PASSWORD)["email"] == acme.emails["viewer"]
    browser.refresh()  # this tab signed in again with the new password: still on the page
    wait.until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#settings #settings-account"))
    )
    assert_no_console_errors(browser)
