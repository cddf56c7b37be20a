"""The README's dashboard pictures, taken from the real demo: `python -m deploy.demo.screenshot`.

Starts the demo stack (deploy/demo/stack.py), runs some shop workload, signs in as the demo admin in
headless Chromium (Debian's chromium and chromedriver) and saves the shop's overview and its
recommendations at 1440 px, and the overview on a 390 px phone in the dark theme, to docs/images/;
everything it started is stopped again.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from pathlib import Path

import httpx
import psycopg
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

from deploy.demo.shop import run_workload
from deploy.demo.stack import start_demo

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
# (file, route below the database, window width, dark theme)
PICTURES = [
    ("dashboard-overview.png", "", 1440, False),
    ("dashboard-recommendations.png", "/recommendations", 1440, False),
    ("dashboard-phone-dark.png", "", 390, True),
]
SETTLE_S = 12.0  # two agent polls: the workload's statements and the advisor's findings arrive
BENCHMARKED_TIMEOUT_S = 180.0  # the sandbox timings of the verified indexes (about a minute)


def wait_for_benchmarks(dashboard_url: str, email: str, password: str, database_id: str) -> None:
    """Until no index is waiting for its sandbox timings: the pictures show the `benchmarked` tier."""
    deadline = time.monotonic() + BENCHMARKED_TIMEOUT_S
    with httpx.Client(base_url=f"{dashboard_url}api/v1", timeout=30, trust_env=False) as api:
        token = api.post("/auth/login", json={"email": email, "password": password}).json()["access_token"]
        api.headers["Authorization"] = f"Bearer {token}"
        while time.monotonic() < deadline:
            listed = api.get(f"/databases/{database_id}/recommendations").json()
            indexes = [r for r in listed if r["kind"] == "create_index"]
            if indexes and all(r["tier"] != "verified" for r in indexes):
                return
            time.sleep(2)


def main() -> None:
    with contextlib.ExitStack() as cleanup:
        stack = start_demo(cleanup, Path(tempfile.mkdtemp(prefix="optischema-screenshot-")))
        with psycopg.connect(stack.shop_url, autocommit=True) as conn:
            run_workload(conn, statements=600, seed=3)
        time.sleep(SETTLE_S)
        wait_for_benchmarks(stack.dashboard_url, stack.email, stack.password, stack.database_id)
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1440,1000"):
            options.add_argument(argument)
        service = webdriver.ChromeService(executable_path="/usr/bin/chromedriver")
        driver = webdriver.Chrome(service=service, options=options)
        try:
            driver.get(f"{stack.dashboard_url}login")
            driver.find_element(By.ID, "email").send_keys(stack.email)
            driver.find_element(By.ID, "password").send_keys(stack.password)
            driver.find_element(By.ID, "sign-in").click()
            WebDriverWait(driver, 20).until(
                expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#databases tbody tr"))
            )
            # The demo has run for minutes, not days: show the last hour, one point per snapshot.
            driver.execute_script(
                'sessionStorage.setItem("optischema.range", JSON.stringify({preset: "1h"}))'
            )
            for name, route, width, dark in PICTURES:
                driver.set_window_size(width, 1000 if width > 700 else 844)
                scheme = "dark" if dark else "light"
                driver.execute_cdp_cmd(
                    "Emulation.setEmulatedMedia",
                    {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
                )
                driver.get(f"{stack.dashboard_url}#/databases/{stack.database_id}{route}")
                time.sleep(4)  # the charts are drawn once their box has its width
                driver.save_screenshot(str(IMAGES / name))
        finally:
            driver.quit()


if __name__ == "__main__":
    main()
