"""OpenAI-compatible adapter: request shape, headers, and vendor-specific responses."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from control_plane.analysis.llm import OpenAICompatibleAdapter, ProviderConfig, ProviderResponseInvalid
from tests.unit.llm.conftest import (
    ANONYMIZED_STATEMENT,
    CASES,
    RAW_LITERAL,
    SECRET,
    VALID_TEXT,
    RecordedSleeps,
    build_request,
    openai_success,
)

pytestmark = pytest.mark.asyncio


async def test_request_body_and_headers(
    router: respx.MockRouter, client: httpx.AsyncClient, sleeps: RecordedSleeps
) -> None:
    route = router.post("https://api.openai.com/v1/chat/completions").mock(
        return_value=httpx.Response(200, json=openai_success(VALID_TEXT))
    )
    request = build_request()

    response = await OpenAICompatibleAdapter(CASES["openai"].config, client, sleep=sleeps).complete(request)

    sent = route.calls.last.request
    assert sent.headers["authorization"] == f"Bearer {SECRET}"
    assert sent.headers["content-type"] == "application/json"
    body = json.loads(sent.content)
    assert body == {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": request.system},
            {"role": "user", "content": request.user},
        ],
        "response_format": {"type": "json_object"},
        "max_tokens": 1024,
    }
    assert ANONYMIZED_STATEMENT in body["messages"][1]["content"]
    assert "$1" in body["messages"][1]["content"]
    assert RAW_LITERAL not in sent.content.decode()
    assert response.model == "gpt-4o-2024-08-06"  # the served model, as reported


async def test_compatible_server_at_custom_base_url_without_key(
    router: respx.MockRouter, client: httpx.AsyncClient, sleeps: RecordedSleeps
) -> None:
    # Ollama's OpenAI-compatible endpoint: no key, no usage block in older versions.
    config = ProviderConfig(
        kind="openai", model="llama3.1", base_url="http://ollama:11434/v1/", name="ollama"
    )
    body = openai_success(VALID_TEXT)
    del body["usage"]
    route = router.post("http://ollama:11434/v1/chat/completions").mock(
        return_value=httpx.Response(200, json=body)
    )

    response = await OpenAICompatibleAdapter(config, client, sleep=sleeps).complete(build_request())

    assert "authorization" not in route.calls.last.request.headers
    assert response.provider == "ollama"
    assert (response.input_tokens, response.output_tokens) == (0, 0)


async def test_refusal_with_null_content_is_invalid(
    router: respx.MockRouter, client: httpx.AsyncClient, sleeps: RecordedSleeps
) -> None:
    body = openai_success("")
    body["choices"][0]["message"] = {"role": "assistant", "content": None, "refusal": "I can't help."}
    body["choices"][0]["finish_reason"] = "stop"
    router.post(CASES["openai"].url).mock(return_value=httpx.Response(200, json=body))

    adapter = OpenAICompatibleAdapter(CASES["openai"].config, client, sleep=sleeps)
    with pytest.raises(ProviderResponseInvalid, match="no content"):
        await adapter.complete(build_request())


async def test_empty_choices_is_invalid(
    router: respx.MockRouter, client: httpx.AsyncClient, sleeps: RecordedSleeps
) -> None:
    body = openai_success(VALID_TEXT)
    body["choices"] = []
    router.post(CASES["openai"].url).mock(return_value=httpx.Response(200, json=body))

    adapter = OpenAICompatibleAdapter(CASES["openai"].config, client, sleep=sleeps)
    with pytest.raises(ProviderResponseInvalid, match="at choices"):
        await adapter.complete(build_request())
