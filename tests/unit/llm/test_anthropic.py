"""Anthropic adapter: request shape, headers, and vendor-specific responses."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from control_plane.analysis.llm import AnthropicAdapter, ProviderResponseInvalid
from tests.unit.llm.conftest import (
    ANONYMIZED_STATEMENT,
    CASES,
    RAW_LITERAL,
    SECRET,
    VALID_TEXT,
    RecordedSleeps,
    anthropic_error,
    anthropic_success,
    build_request,
)

pytestmark = pytest.mark.asyncio
URL = CASES["anthropic"].url


async def test_request_body_and_headers(
    router: respx.MockRouter, client: httpx.AsyncClient, sleeps: RecordedSleeps
) -> None:
    route = router.post(URL).mock(return_value=httpx.Response(200, json=anthropic_success(VALID_TEXT)))
    request = build_request()

    response = await AnthropicAdapter(CASES["anthropic"].config, client, sleep=sleeps).complete(request)

    sent = route.calls.last.request
    assert sent.headers["x-api-key"] == SECRET
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in sent.headers
    body = json.loads(sent.content)
    assert body == {
        "model": "claude-sonnet-4-20250514",
        "max_tokens": 1024,
        "system": request.system,
        "messages": [{"role": "user", "content": request.user}],
    }
    assert ANONYMIZED_STATEMENT in body["messages"][0]["content"]
    assert "$1" in body["messages"][0]["content"]
    assert RAW_LITERAL not in sent.content.decode()
    assert response.text == VALID_TEXT


async def test_cached_input_tokens_count_as_input(
    router: respx.MockRouter, client: httpx.AsyncClient, sleeps: RecordedSleeps
) -> None:
    body = anthropic_success(VALID_TEXT)
    body["usage"].update(cache_creation_input_tokens=1000, cache_read_input_tokens=24)
    router.post(URL).mock(return_value=httpx.Response(200, json=body))

    response = await AnthropicAdapter(CASES["anthropic"].config, client, sleep=sleeps).complete(
        build_request()
    )

    assert (response.input_tokens, response.output_tokens) == (190 + 1000 + 24, 102)


async def test_only_text_blocks_are_used(
    router: respx.MockRouter, client: httpx.AsyncClient, sleeps: RecordedSleeps
) -> None:
    body = anthropic_success(VALID_TEXT)
    body["content"].insert(0, {"type": "thinking", "thinking": "Looking at the plan...", "signature": "sig"})
    router.post(URL).mock(return_value=httpx.Response(200, json=body))

    response = await AnthropicAdapter(CASES["anthropic"].config, client, sleep=sleeps).complete(
        build_request()
    )

    assert response.text == VALID_TEXT


async def test_message_without_text_is_invalid(
    router: respx.MockRouter, client: httpx.AsyncClient, sleeps: RecordedSleeps
) -> None:
    body = anthropic_success(VALID_TEXT)
    body["content"] = []
    body["stop_reason"] = "max_tokens"
    router.post(URL).mock(return_value=httpx.Response(200, json=body))

    adapter = AnthropicAdapter(CASES["anthropic"].config, client, sleep=sleeps)
    with pytest.raises(ProviderResponseInvalid, match="stop_reason=max_tokens"):
        await adapter.complete(build_request())


async def test_529_overloaded_is_retried(
    router: respx.MockRouter, client: httpx.AsyncClient, sleeps: RecordedSleeps
) -> None:
    route = router.post(URL).mock(
        side_effect=[
            httpx.Response(529, json=anthropic_error(529)),
            httpx.Response(200, json=anthropic_success(VALID_TEXT)),
        ]
    )

    adapter = AnthropicAdapter(CASES["anthropic"].config, client, sleep=sleeps, jitter=lambda: 0.0)
    await adapter.complete(build_request())

    assert route.call_count == 2
    assert sleeps.calls == [0.25]
