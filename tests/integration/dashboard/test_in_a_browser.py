"""The dashboard in a real (headless) Chromium: sign in, see the databases, open a recommendation
with its evidence and a query with its sparkline and plan, with no script or CSP error on the way.

Chromium and chromedriver come from Debian (deploy/local/install_system_deps.sh); without them the
test is skipped rather than downloading a browser.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from control_plane.app import create_app
from tests.integration.control_plane.api.conftest import PASSWORD, SeededTenant, seed_tenant, settings_for
from tests.integration.control_plane.api.snapshots import fingerprint
from tests.integration.control_plane.api.test_agent_findings import finding, snapshot_with

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None, reason="chromium and chromedriver are not installed"
)
WAIT_S = 10


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server_url(metadata_url: str) -> Iterator[str]:
    """The app served by uvicorn in a thread: a browser needs a real socket."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings_for(metadata_url)), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def shop(metadata_url: str, server_url: str) -> SeededTenant:
    """A tenant whose database `shop` has statements, a plan and one verified recommendation."""
    tenant = seed_tenant(metadata_url, "acme")
    with httpx.Client(base_url=f"{server_url}/api/v1", trust_env=False, timeout=30) as api:
        access = api.post("/auth/login", json={"email": tenant.emails["admin"], "password": PASSWORD})
        admin = {"Authorization": f"Bearer {access.json()['access_token']}"}
        created = api.post("/databases", json={"name": "shop"}, headers=admin).json()
        agent = {"Authorization": f"Bearer {created['agent_token']}"}
        assert api.post("/agent/snapshots", json=snapshot_with(finding()), headers=agent).status_code == 201
    return tenant


@pytest.fixture
def browser() -> Iterator[object]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(
        service=webdriver.ChromeService(executable_path=str(CHROMEDRIVER)), options=options
    )
    try:
        yield driver
    finally:
        driver.quit()


def test_sign_in_list_databases_and_see_a_verified_recommendation(
    browser: object, server_url: str, shop: SeededTenant
) -> None:
    driver = browser  # a selenium WebDriver
    wait = WebDriverWait(driver, WAIT_S)  # type: ignore[arg-type]
    driver.get(f"{server_url}/")  # type: ignore[attr-defined]
    wait.until(expected_conditions.url_to_be(f"{server_url}/login"))  # no session: back to sign-in

    driver.find_element(By.ID, "email").send_keys(shop.emails["admin"])  # type: ignore[attr-defined]
    driver.find_element(By.ID, "password").send_keys(PASSWORD)  # type: ignore[attr-defined]
    driver.find_element(By.ID, "sign-in").click()  # type: ignore[attr-defined]

    row = wait.until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#databases tbody tr"))
    )
    assert "shop" in row.text
    assert driver.find_element(By.ID, "user-email").text == shop.emails["admin"]  # type: ignore[attr-defined]
    assert driver.find_element(By.ID, "user-role").text == "admin"  # type: ignore[attr-defined]
    assert driver.find_element(By.ID, "nav-audit").is_displayed()  # type: ignore[attr-defined]

    row.find_element(By.LINK_TEXT, "Recommendations").click()
    card = wait.until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".recommendation")))
    assert card.find_element(By.CSS_SELECTOR, ".tier-verified").text == "verified"
    assert "CREATE INDEX CONCURRENTLY orders_customer_id_status_idx" in card.text
    assert "8,291.10" in card.text and "8.07" in card.text  # the evidence: cost before and after
    assert {button.text for button in card.find_elements(By.TAG_NAME, "button")} >= {"Approve", "Reject"}

    driver.get(f"{server_url}/#/databases/{_database_id(driver)}/queries/{fingerprint(0)}")  # type: ignore[attr-defined]
    detail = wait.until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#query-detail .plan-tree"))
    )
    assert "Seq Scan" in detail.text
    assert driver.find_elements(By.CSS_SELECTOR, "#query-detail svg.sparkline polyline")  # type: ignore[attr-defined]

    problems = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]  # type: ignore[attr-defined]
    assert problems == []  # no script error, no Content-Security-Policy violation


def _database_id(driver: object) -> str:
    # The current route is #/databases/<id>/recommendations.
    url: str = driver.current_url  # type: ignore[attr-defined]
    return url.split("#/databases/", 1)[1].split("/", 1)[0]
