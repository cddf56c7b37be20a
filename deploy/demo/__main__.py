"""`make demo`: the whole product on throwaway PostgreSQL clusters with a live shop workload.

Prints `Dashboard: <url>` and `Sign in: <email> / <password>` once the agent's first snapshot has
arrived, then keeps the workload going until SIGINT or SIGTERM and stops everything it started.
OPTISCHEMA_DEMO_ONCE=1 stops right after those two lines (the tests use it). Logs go to .demo/.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

import psycopg

from deploy.demo.shop import run_workload
from deploy.demo.stack import log, start_demo

DEMO_DIR = Path(".demo")
WORKLOAD_BATCH = 200
WORKLOAD_PAUSE_S = 1.0


class DemoStopped(BaseException):
    """A stop signal. A BaseException, like KeyboardInterrupt: no `except Exception` swallows it."""


def _stop_on_signal(signum: int, frame: FrameType | None) -> None:
    # One stop is enough: ignore the next signals so they cannot cut the clean-up short.
    for other in (signal.SIGINT, signal.SIGTERM):
        signal.signal(other, signal.SIG_IGN)
    raise DemoStopped(signal.Signals(signum).name)


def keep_workload_running(shop_url: str) -> None:
    with psycopg.connect(shop_url, autocommit=True) as conn:
        while True:
            run_workload(conn, statements=WORKLOAD_BATCH, seed=int.from_bytes(os.urandom(2), "big"))
            time.sleep(WORKLOAD_PAUSE_S)


def main() -> int:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _stop_on_signal)
    try:
        with contextlib.ExitStack() as cleanup:
            stack = start_demo(cleanup, DEMO_DIR)
            print(f"Dashboard: {stack.dashboard_url}", flush=True)
            print(f"Sign in: {stack.email} / {stack.password}", flush=True)
            if os.environ.get("OPTISCHEMA_DEMO_ONCE"):
                return 0
            log("the shop workload is running; press Ctrl-C to stop")
            keep_workload_running(stack.shop_url)
    except DemoStopped as stopped:
        log(f"stopped ({stopped})")
        return 0
    except Exception as error:
        log(f"failed: {error}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
