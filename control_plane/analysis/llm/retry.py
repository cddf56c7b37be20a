"""HTTP POST with bounded retries, shared by every adapter.

Retried: 429, 5xx, timeouts and network errors, i.e. conditions that a later attempt can
plausibly cure. Other 4xx (bad key, bad model name, malformed body) fail at once because
repeating the same request cannot succeed and only burns the caller's time budget.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from control_plane.analysis.llm.provider import ProviderConfig, ProviderUnavailable

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
Jitter = Callable[[], float]


def is_retryable_status(status: int) -> bool:
    return status == 429 or status >= 500


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait per a Retry-After header (delta-seconds or HTTP-date), None if absent/bad."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def backoff_delay(config: ProviderConfig, attempt: int, jitter: Jitter) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random.

    Keeping half fixed guarantees some spacing; the random half stops many workers that
    hit the same 429 from retrying in lockstep.
    """
    ceiling = min(config.backoff_max_s, config.backoff_initial_s * (2.0**attempt))
    return ceiling / 2 + jitter() * ceiling / 2


async def post_with_retries(
    client: httpx.AsyncClient,
    config: ProviderConfig,
    url: str,
    *,
    headers: dict[str, str],
    body: dict[str, Any],
    sleep: Sleep = asyncio.sleep,
    jitter: Jitter = random.random,
) -> httpx.Response:
    """POST `body` as JSON and return the first 2xx response, or raise ProviderUnavailable."""
    attempts = config.max_retries + 1
    reason = "no attempt made"
    for attempt in range(attempts):
        retry_after: float | None = None
        try:
            response = await client.post(url, headers=headers, json=body, timeout=config.timeout_s)
        except httpx.TimeoutException as exc:
            # Class name only: exception text can embed the URL, and we keep messages uniform.
            reason = f"timed out ({type(exc).__name__}, limit {config.timeout_s:g}s)"
        except httpx.TransportError as exc:
            reason = f"network error ({type(exc).__name__})"
        else:
            if response.is_success:
                return response
            if not is_retryable_status(response.status_code):
                raise ProviderUnavailable(config.label, f"HTTP {response.status_code} (not retryable)")
            reason = f"HTTP {response.status_code}"
            retry_after = parse_retry_after(response.headers.get("retry-after"))

        if attempt == attempts - 1:
            break
        if retry_after is not None and retry_after > config.backoff_max_s:
            # Waiting less than the server asked guarantees another 429; waiting longer than
            # we allow stalls the analysis. Failing over to the next provider is better.
            raise ProviderUnavailable(
                config.label, f"{reason}, Retry-After {retry_after:g}s exceeds {config.backoff_max_s:g}s"
            )
        delay = retry_after if retry_after is not None else backoff_delay(config, attempt, jitter)
        logger.warning(
            "LLM provider %s: %s; retry %d/%d in %.2fs",
            config.label,
            reason,
            attempt + 1,
            config.max_retries,
            delay,
        )
        await sleep(delay)
    raise ProviderUnavailable(config.label, f"{reason} after {attempts} attempt(s)")
