"""Retry policy: which failures are retried, how long we wait, and when we give up early."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
import respx

from control_plane.analysis.llm import ProviderConfig, ProviderUnavailable
from control_plane.analysis.llm.retry import (
    backoff_delay,
    is_retryable_status,
    parse_retry_after,
    post_with_retries,
)
from tests.unit.llm.conftest import RecordedSleeps

URL = "https://llm.example/v1/chat/completions"


def config(**overrides: float) -> ProviderConfig:
    values: dict[str, float] = {"max_retries": 3, "backoff_initial_s": 1.0, "backoff_max_s": 4.0}
    values.update(overrides)
    return ProviderConfig(
        kind="openai",
        model="m",
        max_retries=int(values["max_retries"]),
        backoff_initial_s=values["backoff_initial_s"],
        backoff_max_s=values["backoff_max_s"],
    )


@pytest.mark.parametrize(
    ("status", "retryable"), [(429, True), (500, True), (503, True), (400, False), (401, False), (404, False)]
)
def test_retryable_statuses(status: int, retryable: bool) -> None:
    assert is_retryable_status(status) is retryable


def test_parse_retry_after_forms() -> None:
    now = datetime(2025, 3, 10, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7", now=now) == 7.0
    assert parse_retry_after(" 1.5 ", now=now) == 1.5
    assert parse_retry_after("Mon, 10 Mar 2025 12:00:09 GMT", now=now) == 9.0
    assert parse_retry_after("Mon, 10 Mar 2025 11:00:00 GMT", now=now) == 0.0  # already past
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None


def test_backoff_grows_exponentially_and_is_capped() -> None:
    cfg = config()
    assert [backoff_delay(cfg, n, lambda: 1.0) for n in range(5)] == [1.0, 2.0, 4.0, 4.0, 4.0]
    assert [backoff_delay(cfg, n, lambda: 0.0) for n in range(3)] == [0.5, 1.0, 2.0]


def test_config_rejects_negative_retries() -> None:
    with pytest.raises(ValueError, match="max_retries"):
        config(max_retries=-1)


def test_config_rejects_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown provider kind"):
        ProviderConfig(kind="mistral", model="m")  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_network_errors_are_retried_with_backoff() -> None:
    sleeps = RecordedSleeps()
    with respx.mock(assert_all_mocked=True) as router:
        route = router.post(URL).mock(
            side_effect=[httpx.ConnectError("refused"), httpx.RemoteProtocolError("eof"), httpx.Response(200)]
        )
        async with httpx.AsyncClient() as client:
            response = await post_with_retries(
                client, config(), URL, headers={}, body={}, sleep=sleeps, jitter=lambda: 0.0
            )
    assert response.status_code == 200
    assert route.call_count == 3
    assert sleeps.calls == [0.5, 1.0]


@pytest.mark.asyncio
async def test_retry_after_beyond_our_ceiling_gives_up_at_once() -> None:
    # Waiting two minutes would stall the analysis; failing over is the better choice.
    sleeps = RecordedSleeps()
    with respx.mock(assert_all_mocked=True) as router:
        route = router.post(URL).mock(return_value=httpx.Response(429, headers={"Retry-After": "120"}))
        async with httpx.AsyncClient() as client:
            with pytest.raises(ProviderUnavailable, match="Retry-After 120s exceeds 4s"):
                await post_with_retries(client, config(), URL, headers={}, body={}, sleep=sleeps)
    assert route.call_count == 1
    assert sleeps.calls == []


@pytest.mark.asyncio
async def test_zero_retries_means_a_single_attempt() -> None:
    sleeps = RecordedSleeps()
    with respx.mock(assert_all_mocked=True) as router:
        route = router.post(URL).mock(return_value=httpx.Response(502))
        async with httpx.AsyncClient() as client:
            with pytest.raises(ProviderUnavailable, match=r"HTTP 502 after 1 attempt\(s\)"):
                await post_with_retries(client, config(max_retries=0), URL, headers={}, body={}, sleep=sleeps)
    assert route.call_count == 1
    assert sleeps.calls == []
