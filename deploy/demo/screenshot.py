"""The README's dashboard picture, taken from the real demo: `python -m deploy.demo.screenshot`.

Starts the demo stack (deploy/demo/stack.py), runs some shop workload, signs in as the demo admin in
headless Chromium (Debian's chromium and chromedriver) and saves the shop's recommendations page at
1440 px to docs/images/dashboard-recommendations.png; everything it started is stopped again.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from pathlib import Path

import psycopg
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

from deploy.demo.shop import run_workload
from deploy.demo.stack import start_demo

PICTURE = Path(__file__).resolve().parents[2] / "docs" / "images" / "dashboard-recommendations.png"
SETTLE_S = 12.0  # two agent polls: the workload's statements and the advisor's findings arrive


def main() -> None:
    with contextlib.ExitStack() as cleanup:
        stack = start_demo(cleanup, Path(tempfile.mkdtemp(prefix="optischema-screenshot-")))
        with psycopg.connect(stack.shop_url, autocommit=True) as conn:
            run_workload(conn, statements=600, seed=3)
        time.sleep(SETTLE_S)
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
            driver.get(f"{stack.dashboard_url}#/databases/{stack.database_id}/recommendations")
            time.sleep(4)
            driver.save_screenshot(str(PICTURE))
        finally:
            driver.quit()


if __name__ == "__main__":
    main()
