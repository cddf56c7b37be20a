"""Keeps a job's lease alive while a long change runs: an index build may take hours.

The control plane leases a job for minutes and leases it again when the lease runs out; a build still
running then would be delivered twice. A background thread renews the lease every few seconds until
the change ends. A renewal that fails is logged and tried again at the next tick; one the control
plane refuses (the job is unknown or no longer leased to this agent) stops the renewals, but never the
build: abandoning hours of work over a lost lease helps no one, and the catalog check makes a second
delivery harmless.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType
from uuid import UUID

from agent.ship.errors import ControlPlaneUnavailable, ShipError

log = logging.getLogger(__name__)


class LeaseKeeper:
    def __init__(
        self, renew: Callable[[UUID, float | None], object], job_id: UUID, interval_s: float
    ) -> None:
        self._renew = renew
        self._job_id = job_id
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{job_id}", daemon=True)
        self.renewals = 0

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            # A renewal must not outlive its own tick, or renewals would pile up behind a slow server.
            deadline = time.monotonic() + self._interval_s
            try:
                self._renew(self._job_id, deadline)
                self.renewals += 1
            except ControlPlaneUnavailable as error:
                log.warning("could not renew the lease of job %s (trying again): %s", self._job_id, error)
            except ShipError as error:
                log.warning("the control plane refused to renew the lease of job %s: %s", self._job_id, error)
                return
            except Exception:
                log.exception("renewing the lease of job %s failed", self._job_id)
                return
