"""Rate-limit counts in shared storage (Redis), kept in this process's memory while it is away.

The decision, for both limits (sign-in and refresh, and the expensive endpoints): when Redis does
not answer, they fail closed onto per-process counting, never open and never with an error. Each
server process then counts on its own, so a client gets at most (processes x limit) attempts
instead of the shared limit, and no request is refused or answered 5xx for want of Redis.

- Sign-in throttling is the brute-force defence: failing open would give an attacker unlimited
  guesses for as long as Redis is down (or can be made to look down); failing fully closed (503 on
  every sign-in) would end every user's session within an access token's lifetime because refresh
  shares the limit. Per-process counting keeps the defence at a bounded multiple.
- The expensive-endpoint limit protects capacity; per-process counting still bounds it, and an
  honest user never comes near it, so it costs availability nothing.

Redis is tried again `retry_after_s` after a failure (not on every request, which would add its
timeout to each one); every call is bounded by the client's socket timeouts set by the caller.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from limits.storage import MemoryStorage, MovingWindowSupport, Storage

log = logging.getLogger(__name__)


class FallbackStorage(Storage, MovingWindowSupport):
    """`shared` while it answers, then this process's memory until `retry_after_s` has passed."""

    STORAGE_SCHEME = None  # built by control_plane.edges.rate_limit, never from a URI

    def __init__(
        self,
        shared: Storage,
        *,
        retry_after_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        if not isinstance(shared, MovingWindowSupport):
            raise ValueError(f"{type(shared).__name__} cannot count a moving window")
        self._shared = shared
        self._local = MemoryStorage()
        self._retry_after_s = retry_after_s
        self._clock = clock
        self._shared_down_since: float | None = None

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return ()  # nothing escapes: a failure of the shared storage switches to local counting

    @property
    def using_shared(self) -> bool:
        down_since = self._shared_down_since
        return down_since is None or self._clock() - down_since >= self._retry_after_s

    def _call(self, method: str, *args: Any) -> Any:
        if self.using_shared:
            try:
                result = getattr(self._shared, method)(*args)
            except Exception as error:  # redis.ConnectionError, TimeoutError, a refused script...
                if self._shared_down_since is None:
                    log.warning(
                        "rate-limit storage unavailable (%s): counting in this process until it answers",
                        type(error).__name__,
                    )
                self._shared_down_since = self._clock()
            else:
                if self._shared_down_since is not None:
                    log.info("rate-limit storage answers again: counting there")
                self._shared_down_since = None
                return result
        return getattr(self._local, method)(*args)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        result: int = self._call("incr", key, expiry, amount)
        return result

    def get(self, key: str) -> int:
        result: int = self._call("get", key)
        return result

    def get_expiry(self, key: str) -> float:
        result: float = self._call("get_expiry", key)
        return result

    def check(self) -> bool:
        return self.using_shared and bool(self._call("check"))

    def reset(self) -> int | None:
        result: int | None = self._call("reset")
        return result

    def clear(self, key: str) -> None:
        self._call("clear", key)

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        result: bool = self._call("acquire_entry", key, limit, expiry, amount)
        return result

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        result: tuple[float, int] = self._call("get_moving_window", key, limit, expiry)
        return result
