"""When to try again: exponential backoff with full jitter, and the server's Retry-After.

Pure functions, so the schedule is tested without a clock or a network. Full jitter (a uniform
wait between zero and the exponential ceiling) spreads a fleet of agents that all lost the control
plane at the same moment, instead of having them return in synchronized waves.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# Statuses where the same request may succeed later: overload, rate limiting, a restarting server.
RETRYABLE_STATUSES = frozenset({408, 425, 429})


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUSES or 500 <= status <= 599


@dataclass(frozen=True)
class RetryPolicy:
    initial_s: float = 2.0
    max_s: float = 64.0
    max_attempts: int = 6  # attempts in all, the first one included

    def __post_init__(self) -> None:
        if self.initial_s <= 0 or self.max_s < self.initial_s:
            raise ValueError("RetryPolicy needs 0 < initial_s <= max_s")
        if self.max_attempts < 1:
            raise ValueError("RetryPolicy.max_attempts must be at least 1")


def backoff_ceiling(policy: RetryPolicy, retry_index: int) -> float:
    """The longest wait before retry number `retry_index` (0 for the first retry): 2, 4, 8, ... 64."""
    if retry_index < 0:
        raise ValueError("retry_index starts at 0")
    # Capping the exponent first keeps 2**n finite however long an outage lasts.
    doublings = min(retry_index, math.ceil(math.log2(policy.max_s / policy.initial_s)) + 1)
    return float(min(policy.max_s, policy.initial_s * 2**doublings))


def backoff_wait(policy: RetryPolicy, retry_index: int, rng: random.Random) -> float:
    return rng.uniform(0.0, backoff_ceiling(policy, retry_index))


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None when absent or bad."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive result means the zone was omitted
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def retry_wait(
    policy: RetryPolicy, retry_index: int, rng: random.Random, retry_after: float | None = None
) -> float:
    """The wait before the next attempt.

    A server that says when to come back is believed, up to the policy's ceiling: a Retry-After of
    an hour must not park the agent's whole cycle, and the spool keeps whatever is not sent.
    """
    if retry_after is not None:
        return min(max(retry_after, 0.0), policy.max_s)
    return backoff_wait(policy, retry_index, rng)


def backoff_schedule(policy: RetryPolicy, rng: random.Random) -> list[float]:
    """Every wait a request that always fails would see, in order (max_attempts - 1 of them)."""
    return [backoff_wait(policy, index, rng) for index in range(policy.max_attempts - 1)]
