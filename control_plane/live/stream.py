"""One open live stream: polls the database's changes and writes them as server-sent events.

The stream owns its transactions, as a background job does: one short tenant-scoped transaction
per poll, none held in between. Each poll reads the window [cursor - look-back, ...), where cursor
is the metadata database's clock at the previous poll, and skips the changes it already sent (kept
for as long as they can reappear in a window). A change stamped at T but committed later is
therefore sent as long as its transaction took less than `live_lookback_s` (30 s) after stamping;
the stamp is taken by a trigger at the change itself (clock_timestamp()), so that is the time from
the status change to COMMIT, not the whole transaction.

The first poll only takes note of what is already there: the page fetched it when it opened.
While the metadata database is away a poll is skipped (keep-alives go on) and the next successful
one catches up through the same window.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.db.availability import MetadataUnavailable
from control_plane.db.session import tenant_session
from control_plane.live.repository import LiveRepository
from control_plane.live.schemas import Change, EventName, ReconnectEvent
from control_plane.live.service import LiveService, Subscription, event_of
from control_plane.settings import Settings

log = logging.getLogger(__name__)
# A burst larger than this (an analysis creating hundreds of recommendations) is read over several
# polls, resuming at the last change read, rather than in one unbounded result.
POLL_LIMIT = 500
KEEP_ALIVE = ": keep-alive\n\n"


def sse(event: EventName, payload: BaseModel) -> str:
    return f"event: {event}\ndata: {payload.model_dump_json()}\n\n"


class LiveStream:
    def __init__(
        self, engine: AsyncEngine, subscription: Subscription, settings: Settings, secret_key: str
    ) -> None:
        self._engine = engine
        self._subscription = subscription
        self._settings = settings
        self._secret_key = secret_key
        self._lookback = timedelta(seconds=settings.live_lookback_s)
        self._window_start: datetime | None = None  # None until the first poll succeeded
        self._sent: dict[tuple[str, uuid.UUID, datetime], datetime] = {}  # change key -> changed_at
        self._signed_out = False
        self._outage_logged = False

    async def _poll(self) -> list[Change]:
        """The changes not sent yet; also notes whether the user's session still stands."""
        context = self._subscription.context
        async with tenant_session(self._engine, context) as session:
            if not await LiveService(session, context, self._secret_key).still_signed_in(self._subscription):
                self._signed_out = True
                return []
            live = LiveRepository(session, context)
            now = await live.now()
            since = self._window_start if self._window_start is not None else now - self._lookback
            changes = await live.changes_since(self._subscription.database_id, since, POLL_LIMIT)
        priming = self._window_start is None
        fresh = [change for change in changes if change.key not in self._sent]
        self._sent.update((change.key, change.changed_at) for change in fresh)
        full = len(changes) == POLL_LIMIT
        self._window_start = changes[-1].changed_at if full else max(now - self._lookback, since)
        start = self._window_start
        self._sent = {key: at for key, at in self._sent.items() if at >= start}
        return [] if priming else fresh

    async def _poll_through_outages(self) -> list[Change]:
        try:
            changes = await self._poll()
        except MetadataUnavailable as error:
            if not self._outage_logged:
                log.warning("live stream: the metadata database is unavailable (%s)", error.reason)
            self._outage_logged = True
            return []
        self._outage_logged = False
        return changes

    async def events(self, disconnected: Callable[[], Awaitable[bool]]) -> AsyncIterator[str]:
        settings = self._settings
        database_id = self._subscription.database_id
        started = time.monotonic()
        deadline = started + settings.live_max_stream_s
        await self._poll_through_outages()  # primes: what is there now, the page has just fetched
        # `connected` after priming: anything stored from now on is news to the page.
        yield f"retry: {settings.live_retry_ms}\n: connected\n\n"
        last_written = time.monotonic()
        while True:
            await asyncio.sleep(max(0.0, min(settings.live_poll_s, deadline - time.monotonic())))
            if time.monotonic() >= deadline:
                yield sse("reconnect", ReconnectEvent(reason="max_duration"))
                return
            if await disconnected():
                return
            changes = await self._poll_through_outages()
            if self._signed_out:
                yield sse("reconnect", ReconnectEvent(reason="signed_out"))
                return
            for change in changes:
                yield sse(*event_of(change, database_id))
                last_written = time.monotonic()
            if time.monotonic() - last_written >= settings.live_keepalive_s:
                yield KEEP_ALIVE
                last_written = time.monotonic()
