"""What the dashboard's browser tests share: the app served by uvicorn on a loopback port (a browser
needs a real socket), headless Chromium with chromedriver (Debian's; without them the tests are
skipped rather than downloading a browser), and the check that the console stayed clean."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest

from control_plane.settings import Settings
from tests.served_app import serving

webdriver = pytest.importorskip("selenium.webdriver")

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
requires_chromium = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None, reason="chromium and chromedriver are not installed"
)


def served(settings: Settings) -> AbstractContextManager[str]:
    """The app served by uvicorn in a thread; its base URL (tests.served_app)."""
    return serving(settings)


@contextmanager
def chromium(time_zone: str | None = None) -> Iterator[Any]:
    """A headless Chromium (a selenium WebDriver) keeping its console log; `time_zone` sets TZ."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    env = {"TZ": time_zone} if time_zone else None
    driver = webdriver.Chrome(
        service=webdriver.ChromeService(executable_path=str(CHROMEDRIVER), env=env), options=options
    )
    try:
        yield driver
    finally:
        driver.quit()


def page_wait(driver: Any, timeout_s: float) -> WebDriverWait[Any]:
    """A selenium wait that asks again when the element it read was re-rendered in between: the pages
    redraw a card or a row whenever the live stream brings news (every 2 s), so an element found a
    moment ago may be gone by the time its attribute is read."""
    return WebDriverWait(
        driver, timeout_s, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
    )


def assert_no_console_errors(driver: Any) -> None:
    problems = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert problems == []  # no script error, no failed request, no Content-Security-Policy violation
