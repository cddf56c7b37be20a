"""Gemini adapter: request shape, headers, and vendor-specific responses."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from control_plane.analysis.llm import GeminiAdapter, ProviderResponseInvalid
from tests.unit.llm.conftest import (
    ANONYMIZED_STATEMENT,
    CASES,
    RAW_LITERAL,
    SECRET,
    VALID_TEXT,
    RecordedSleeps,
    build_request,
    gemini_success,
)

pytestmark = pytest.mark.asyncio
URL = CASES["gemini"].url


async def test_request_body_and_headers(
    router: respx.MockRouter, client: httpx.AsyncClient, sleeps: RecordedSleeps
) -> None:
    route = router.post(URL).mock(return_value=httpx.Response(200, json=gemini_success(VALID_TEXT)))
    request = build_request()

    response = await GeminiAdapter(CASES["gemini"].config, client, sleep=sleeps).complete(request)

    sent = route.calls.last.request
    assert sent.headers["x-goog-api-key"] == SECRET
    assert "key=" not in str(sent.url)  # never in the URL, where logs would pick it up
    body = json.loads(sent.content)
    assert body == {
        "systemInstruction": {"parts": [{"text": request.system}]},
        "contents": [{"role": "user", "parts": [{"text": request.user}]}],
        "generationConfig": {"responseMimeType": "application/json", "maxOutputTokens": 1024},
    }
    user_text = body["contents"][0]["parts"][0]["text"]
    assert ANONYMIZED_STATEMENT in user_text and "$1" in user_text
    assert RAW_LITERAL not in sent.content.decode()
    assert response.model == "gemini-2.0-flash"


async def test_thinking_parts_are_skipped_and_thought_tokens_counted(
    router: respx.MockRouter, client: httpx.AsyncClient, sleeps: RecordedSleeps
) -> None:
    body = gemini_success(VALID_TEXT)
    body["candidates"][0]["content"]["parts"].insert(0, {"text": "Considering indexes...", "thought": True})
    body["usageMetadata"]["thoughtsTokenCount"] = 40
    router.post(URL).mock(return_value=httpx.Response(200, json=body))

    response = await GeminiAdapter(CASES["gemini"].config, client, sleep=sleeps).complete(build_request())

    assert response.text == VALID_TEXT
    assert (response.input_tokens, response.output_tokens) == (175, 88 + 40)


async def test_blocked_candidate_is_invalid(
    router: respx.MockRouter, client: httpx.AsyncClient, sleeps: RecordedSleeps
) -> None:
    body = {
        "candidates": [{"finishReason": "SAFETY", "index": 0, "safetyRatings": []}],
        "usageMetadata": {"promptTokenCount": 175, "totalTokenCount": 175},
        "modelVersion": "gemini-2.0-flash",
    }
    router.post(URL).mock(return_value=httpx.Response(200, json=body))

    adapter = GeminiAdapter(CASES["gemini"].config, client, sleep=sleeps)
    with pytest.raises(ProviderResponseInvalid, match="finishReason=SAFETY"):
        await adapter.complete(build_request())


async def test_503_unavailable_is_retried(
    router: respx.MockRouter, client: httpx.AsyncClient, sleeps: RecordedSleeps
) -> None:
    route = router.post(URL).mock(
        side_effect=[
            httpx.Response(
                503, json={"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}
            ),
            httpx.Response(200, json=gemini_success(VALID_TEXT)),
        ]
    )

    adapter = GeminiAdapter(CASES["gemini"].config, client, sleep=sleeps, jitter=lambda: 1.0)
    await adapter.complete(build_request())

    assert route.call_count == 2
    assert sleeps.calls == [0.5]  # full jitter on the first 0.5 s ceiling
