"""The loop that runs periodic background jobs until it is told to stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from control_plane.db.availability import as_unavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    interval_s: float
    run: Callable[[], Awaitable[object]]


async def run_periodically(jobs: list[PeriodicJob], stop: asyncio.Event) -> None:
    """Runs each job at its interval; a failing job is logged and retried at its next turn."""

    async def loop(job: PeriodicJob) -> None:
        while not stop.is_set():
            try:
                await job.run()
            except Exception as error:
                unavailable = as_unavailable(error)
                if unavailable is None:
                    log.exception("background job %s failed; retrying in %.0f s", job.name, job.interval_s)
                else:  # an expected outage: one line, no traceback, every turn until it ends
                    log.warning(
                        "background job %s: the metadata database is unavailable (%s); retrying in %.0f s",
                        job.name,
                        unavailable.reason,
                        job.interval_s,
                    )
            try:
                await asyncio.wait_for(stop.wait(), timeout=job.interval_s)
            except TimeoutError:
                continue

    await asyncio.gather(*(loop(job) for job in jobs))
