"""Every page of the dashboard, in a real Chromium, as an admin and as a viewer, on a desktop
(1440 px) and a phone (390 px), in the light and the dark theme: each page loads its content with no
script or CSP error, no page scrolls sideways on the phone, the dark theme is dark, and a screenshot
of each is kept as a test artifact (test-artifacts/dashboard/, or $OPTISCHEMA_TEST_ARTIFACTS).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions

from tests.integration.control_plane.api.conftest import SeededTenant, register_database
from tests.integration.control_plane.api.snapshots import fingerprint
from tests.integration.dashboard.browser import assert_no_console_errors, page_wait
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

ARTIFACTS = (
    Path(os.environ.get("OPTISCHEMA_TEST_ARTIFACTS", Path(__file__).parents[3] / "test-artifacts"))
    / "dashboard"
)
DESKTOP, PHONE = 1440, 390
HEIGHT = 900


def pages(walked: WalkedDatabase) -> list[tuple[str, str, str, bool]]:
    """(name, route, what shows the page has loaded, admins only)."""
    db = f"/databases/{walked.database_id}"
    return [
        ("databases", "/databases", "#databases tbody tr", False),
        ("overview", db, "#overview #kpis .kpi", False),
        ("queries", f"{db}/queries", "#queries tbody tr", False),
        ("query", f"{db}/queries/{fingerprint(0)}", "#query-detail .plan-tree .costliest", False),
        ("heatmap", f"{db}/heatmap", "#heatmap svg rect", False),
        ("recommendations", f"{db}/recommendations", "#recommendations .group .recommendation", False),
        (
            "recommendation",
            f"{db}/recommendations/{walked.covering_id}",
            "#recommendation-detail .timeline",
            False,
        ),
        ("index-health", f"{db}/index-health", "#index-health tbody tr", False),
        ("audit", "/audit", "#audit tbody tr", True),
        ("settings", "/settings", "#settings", False),
    ]


def open_route(driver: Any, server_url: str, route: str, ready: str) -> None:
    driver.get(f"{server_url}/#{route}")
    page_wait(driver, WAIT_S).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ready)))
    # Charts are drawn once their box has a width: wait for every one to have its canvas.
    page_wait(driver, WAIT_S).until(
        lambda d: all(
            chart.find_elements(By.CSS_SELECTOR, "canvas, p")
            for chart in d.find_elements(By.CSS_SELECTOR, "figure.chart")
        )
    )


def horizontal_overflow(driver: Any) -> int:
    """How far the page is wider than the window, in CSS pixels (0: no sideways scroll)."""
    return int(driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth"))


def background_luminance(driver: Any) -> float:
    rgb = driver.execute_script(
        "const c = getComputedStyle(document.body).backgroundColor.match(/\\d+/g).map(Number);"
        "return c.slice(0, 3);"
    )
    red, green, blue = (channel / 255 for channel in rgb)
    return float(0.2126 * red + 0.7152 * green + 0.0722 * blue)


def prefer_dark(driver: Any, dark: bool) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}]},
    )


@pytest.mark.parametrize("role", ["admin", "viewer"])
def test_every_page_on_a_desktop_and_a_phone_in_both_themes(
    browser: Any, server_url: str, api: TestClient, acme: SeededTenant, role: str
) -> None:
    walked = walk_database(api, acme)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    sign_in(browser, server_url, acme.emails[role])
    visited = []
    for name, route, ready, admins_only in pages(walked):
        if admins_only and role != "admin":
            continue
        for width in (DESKTOP, PHONE):
            for theme in ("light", "dark"):
                browser.set_window_size(width, HEIGHT)
                prefer_dark(browser, theme == "dark")
                open_route(browser, server_url, route, ready)
                browser.save_screenshot(str(ARTIFACTS / f"{role}-{name}-{width}-{theme}.png"))
                luminance = background_luminance(browser)
                assert (luminance < 0.2) if theme == "dark" else (luminance > 0.8), (
                    name,
                    width,
                    theme,
                    luminance,
                )
                if width == PHONE:
                    assert horizontal_overflow(browser) <= 0, f"{name} scrolls sideways at {PHONE} px"
                visited.append(name)
    assert_no_console_errors(browser)
    assert len(set(visited)) == len(pages(walked)) - (role != "admin")


def test_a_viewer_sees_no_decision_and_no_admin_section(
    browser: Any, server_url: str, api: TestClient, acme: SeededTenant
) -> None:
    walked = walk_database(api, acme)
    sign_in(browser, server_url, acme.emails["viewer"])
    assert not browser.find_element(By.ID, "nav-audit").is_displayed()

    open_route(
        browser,
        server_url,
        f"/databases/{walked.database_id}/recommendations",
        "#recommendations .recommendation",
    )
    decisions = [
        button.text
        for button in browser.find_elements(By.CSS_SELECTOR, "#recommendations button:not(.copy)")
        if button.is_displayed() and button.text in {"Approve", "Reject", "Roll back"}
    ]
    assert decisions == []
    assert_no_console_errors(browser)


def test_the_theme_toggle_overrides_the_system_and_is_remembered(
    browser: Any, server_url: str, api: TestClient, acme: SeededTenant
) -> None:
    walk_database(api, acme)
    browser.set_window_size(DESKTOP, HEIGHT)
    prefer_dark(browser, False)
    sign_in(browser, server_url, acme.emails["viewer"])
    toggle = browser.find_element(By.ID, "theme-toggle")
    assert toggle.text == "Theme: system" and background_luminance(browser) > 0.8

    toggle.click()  # light
    toggle.click()  # dark
    assert toggle.text == "Theme: dark" and background_luminance(browser) < 0.2
    browser.refresh()
    page_wait(browser, WAIT_S).until(lambda d: d.find_element(By.ID, "theme-toggle").text == "Theme: dark")
    assert background_luminance(browser) < 0.2


def test_a_database_with_no_agent_yet_says_how_to_start_one(
    browser: Any, server_url: str, api: TestClient, acme: SeededTenant
) -> None:
    database = register_database(api, acme, name="warehouse")
    sign_in(browser, server_url, acme.emails["viewer"])

    open_route(browser, server_url, f"/databases/{database['id']}", "#agent-state")

    assert browser.find_element(By.ID, "agent-state").get_attribute("data-status") == "never"
    command = browser.find_element(By.CSS_SELECTOR, "#overview pre.agent-command").text
    assert command.startswith("docker run") and "OPTISCHEMA_AGENT_TOKEN='<token>'" in command
    assert database["agent_token"] not in browser.page_source  # shown once, at creation, never again
    assert_no_console_errors(browser)
