"""The soak's observers: a counted workload on the monitored database and probes of the API.

`CountedWorkload` runs one lookup over and over and counts only executions the server confirmed;
pausing it is how the harness keeps the count exact across a monitored restart or a statistics
reset (a statement cut off mid-answer would be counted by one side only). `ApiProbe` asks `/readyz`
and a user route several times a second and records what each answered in which phase, so that
afterwards the harness can say whether `/readyz` told the truth and whether anything answered 5xx
other than a 503 with `Retry-After`.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass

import httpx
import psycopg

LOOKUP = "SELECT name FROM products WHERE sku = $1"
PROBE_TIMEOUT_S = 10.0  # a probe still waiting after this long is a hang


class CountedWorkload(threading.Thread):
    def __init__(self, url: str, pause_s: float = 0.002) -> None:
        super().__init__(name="soak-workload", daemon=True)
        self._url = url
        self._pause_s = pause_s
        self._running = threading.Event()
        self._running.set()
        self._idle = threading.Event()
        self._stopping = threading.Event()
        self.executions = 0
        self.failures = 0

    def pause(self) -> None:
        """Returns once no statement is in flight."""
        self._running.clear()
        self._idle.wait(timeout=30)

    def resume(self) -> None:
        self._idle.clear()
        self._running.set()

    def stop(self) -> None:
        self._stopping.set()
        self._running.set()
        self.join(timeout=30)

    def run(self) -> None:
        rng = random.Random(7)
        conn: psycopg.Connection | None = None
        while not self._stopping.is_set():
            if not self._running.is_set():
                self._idle.set()
                self._running.wait()
                continue
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(self._url, autocommit=True, connect_timeout=2)
                conn.execute("SELECT name FROM products WHERE sku = %s", [rng.randint(1, 2000)]).fetchall()
                self.executions += 1
            except psycopg.Error:
                self.failures += 1
                conn = None
                time.sleep(0.2)
            time.sleep(self._pause_s)
        if conn is not None:
            conn.close()


@dataclass
class ProbeRecord:
    at: float
    phase: str
    route: str
    status: str  # "200", "503", "503-no-retry-after", "refused", "hang", "500", ...


class ApiProbe(threading.Thread):
    def __init__(self, base_url: str, user_token: str, interval_s: float = 0.25) -> None:
        super().__init__(name="soak-probe", daemon=True)
        self.base_url = base_url
        self.user_token = user_token
        self.interval_s = interval_s
        self.phase = "up"  # set by the harness as faults come and go
        self.records: list[ProbeRecord] = []
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=PROBE_TIMEOUT_S * 3)

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.user_token}"}
        with httpx.Client(base_url=self.base_url, timeout=PROBE_TIMEOUT_S, trust_env=False) as client:
            while not self._stop_event.is_set():
                for route, request_headers in (("/readyz", {}), ("/api/v1/databases", headers)):
                    self.records.append(
                        ProbeRecord(
                            time.monotonic(), self.phase, route, _status(client, route, request_headers)
                        )
                    )
                self._stop_event.wait(self.interval_s)

    def statuses(self) -> Counter[str]:
        return Counter(record.status for record in self.records)


def _status(client: httpx.Client, route: str, headers: dict[str, str]) -> str:
    try:
        response = client.get(route, headers=headers)
    except httpx.TimeoutException:
        return "hang"
    except httpx.TransportError:
        return "refused"  # the control plane is down: nothing listens
    if response.status_code == 503 and "retry-after" not in response.headers and route != "/readyz":
        return "503-no-retry-after"
    return str(response.status_code)
