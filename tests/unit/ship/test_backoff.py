"""The retry schedule and Retry-After parsing, as pure functions."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from agent.ship.backoff import (
    RetryPolicy,
    backoff_ceiling,
    backoff_schedule,
    backoff_wait,
    is_retryable_status,
    parse_retry_after,
    retry_wait,
)

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_ceilings_double_from_two_seconds_up_to_sixty_four() -> None:
    policy = RetryPolicy()
    assert [backoff_ceiling(policy, n) for n in range(8)] == [2, 4, 8, 16, 32, 64, 64, 64]


def test_ceiling_stays_finite_after_a_very_long_outage() -> None:
    assert backoff_ceiling(RetryPolicy(), 10_000) == 64


@pytest.mark.parametrize("seed", range(20))
def test_full_jitter_stays_between_zero_and_the_ceiling(seed: int) -> None:
    policy = RetryPolicy()
    rng = random.Random(seed)
    for index in range(10):
        assert 0.0 <= backoff_wait(policy, index, rng) <= backoff_ceiling(policy, index)


def test_jitter_actually_varies() -> None:
    rng = random.Random(1)
    waits = {round(backoff_wait(RetryPolicy(), 4, rng), 6) for _ in range(20)}
    assert len(waits) > 10


def test_schedule_has_one_wait_per_retry_and_is_reproducible() -> None:
    policy = RetryPolicy(max_attempts=6)
    schedule = backoff_schedule(policy, random.Random(7))
    assert len(schedule) == 5
    assert schedule == backoff_schedule(policy, random.Random(7))
    assert all(0 <= wait <= ceiling for wait, ceiling in zip(schedule, [2, 4, 8, 16, 32], strict=True))


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("7", 7.0),
        (" 120 ", 120.0),
        ("0", 0.0),
        ("Wed, 01 May 2024 12:00:30 GMT", 30.0),
        ("Wed, 01 May 2024 11:59:00 GMT", 0.0),  # already past: go now
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
    ],
)
def test_retry_after_parsing(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, NOW) == expected


def test_retry_after_is_honoured_but_capped_by_the_maximum_backoff() -> None:
    policy = RetryPolicy()
    rng = random.Random(0)
    assert retry_wait(policy, 0, rng, retry_after=7.0) == 7.0
    assert retry_wait(policy, 0, rng, retry_after=3600.0) == 64.0
    assert retry_wait(policy, 0, rng, retry_after=-1.0) == 0.0


def test_without_retry_after_the_wait_is_the_jittered_backoff() -> None:
    policy = RetryPolicy()
    assert retry_wait(policy, 3, random.Random(5)) == backoff_wait(policy, 3, random.Random(5))


def test_http_date_relative_to_a_later_now() -> None:
    header = (NOW + timedelta(minutes=2)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after(header, NOW + timedelta(minutes=1)) == 60.0


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        *[(status, True) for status in (500, 502, 503, 504, 599, 429, 408)],
        *[(status, False) for status in (400, 401, 403, 404, 413, 422, 200)],
    ],
)
def test_which_statuses_are_retried(status: int, retryable: bool) -> None:
    assert is_retryable_status(status) is retryable


@pytest.mark.parametrize(
    "arguments", [{"initial_s": 0}, {"initial_s": 10, "max_s": 5}, {"max_attempts": 0}, {"initial_s": -1}]
)
def test_nonsensical_policies_are_refused(arguments: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="RetryPolicy"):
        RetryPolicy(**arguments)  # type: ignore[arg-type]
