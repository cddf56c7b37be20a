"""A real uvicorn server (a stream needs a socket), and SSE read by a thread into a queue.

Every interval is configured small: streams poll every 0.2 s and, when idle, write a keep-alive
after every poll, so a keep-alive proves that one more poll has run. Waits have deadlines for
failing, never expectations about how fast anything is.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from control_plane.settings import Settings
from tests.integration.control_plane.api.conftest import PASSWORD, SeededTenant, seed_tenant, settings_for
from tests.served_app import serving

POLL_S = 0.2
WAIT_S = 15.0  # a deadline for failing, many poll intervals long


def live_settings(metadata_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "live_poll_s": POLL_S,
        "live_keepalive_s": POLL_S,
        "live_lookback_s": 5.0,
        **overrides,
    }
    return settings_for(metadata_url, **values)


def serve(settings: Settings) -> AbstractContextManager[str]:
    """The app served by uvicorn in a thread (tests.served_app)."""
    return serving(settings)


@pytest.fixture
def server_url(metadata_url: str) -> Iterator[str]:
    with serve(live_settings(metadata_url)) as url:
        yield url


@pytest.fixture
def api(server_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{server_url}/api/v1", trust_env=False, timeout=30) as client:
        yield client


@pytest.fixture
def acme(metadata_url: str) -> SeededTenant:
    return seed_tenant(metadata_url, "acme")


@pytest.fixture
def globex(metadata_url: str) -> SeededTenant:
    return seed_tenant(metadata_url, "globex")


def signed_in(api: httpx.Client, tenant: SeededTenant, role: str = "viewer") -> dict[str, str]:
    response = api.post("/auth/login", json={"email": tenant.emails[role], "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def ticket(api: httpx.Client, user: dict[str, str]) -> str:
    response = api.post("/live/ticket", headers=user)
    assert response.status_code == 200, response.text
    found: str = response.json()["ticket"]
    return found


@dataclass(frozen=True)
class Event:
    name: str  # "comment" for a `:` line
    data: Any


class EventStream:
    """GET /live/events read by a thread: events land in a queue until the stream ends or is closed."""

    def __init__(self, api: httpx.Client, database_id: str, live_ticket: str) -> None:
        self.events: queue.Queue[Event | None] = queue.Queue()
        self.status_code: int | None = None
        self._stop = threading.Event()
        self._opened = threading.Event()
        self._thread = threading.Thread(
            target=self._read, args=(api, {"database_id": database_id, "ticket": live_ticket}), daemon=True
        )
        self._thread.start()
        assert self._opened.wait(WAIT_S), "the stream did not answer"

    def _read(self, api: httpx.Client, params: dict[str, str]) -> None:
        try:
            with api.stream("GET", "/live/events", params=params, timeout=WAIT_S) as response:
                self.status_code = response.status_code
                self.content_type = response.headers.get("content-type", "")
                self._opened.set()
                name, data = "message", ""
                for line in response.iter_lines():
                    if self._stop.is_set():
                        return
                    if line.startswith(":"):
                        self.events.put(Event("comment", line[1:].strip()))
                    elif line.startswith("event:"):
                        name = line.removeprefix("event:").strip()
                    elif line.startswith("data:"):
                        data += line.removeprefix("data:").strip()
                    elif line.startswith("retry:"):
                        self.events.put(Event("retry", int(line.removeprefix("retry:"))))
                    elif line == "" and data:
                        self.events.put(Event(name, json.loads(data)))
                        name, data = "message", ""
        finally:
            self._opened.set()
            self.events.put(None)

    def next(self) -> Event | None:
        """The next event or comment; None once the stream has ended."""
        try:
            return self.events.get(timeout=WAIT_S)
        except queue.Empty:
            raise AssertionError("the stream went silent: not even a keep-alive") from None

    def until(self, name: str, **fields: object) -> tuple[Event, list[Event]]:
        """Reads up to the first `name` event whose data has `fields`; returns it and what came before."""
        before: list[Event] = []
        while (found := self.next()) is not None:
            if found.name == name and all(found.data.get(key) == value for key, value in fields.items()):
                return found, before
            before.append(found)
        raise AssertionError(f"the stream ended before a {name} event with {fields}: {before}")

    def polls(self, count: int) -> list[Event]:
        """Reads until `count` keep-alives (each written after one more poll); returns what came."""
        seen: list[Event] = []
        while count > 0:
            found = self.next()
            assert found is not None, f"the stream ended: {seen}"
            seen.append(found)
            count -= found == Event("comment", "keep-alive")
        return seen

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=WAIT_S)


@contextmanager
def streaming(api: httpx.Client, database_id: str, live_ticket: str) -> Iterator[EventStream]:
    stream = EventStream(api, database_id, live_ticket)
    try:
        assert stream.status_code == 200
        # The browser's reconnect wait, then `connected` once the stream has noted what is there.
        assert stream.next() == Event("retry", 3000)
        assert stream.next() == Event("comment", "connected")
        yield stream
    finally:
        stream.close()
