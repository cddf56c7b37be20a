"""ProviderChain ordering and failure reporting, with stub adapters (no HTTP)."""

from __future__ import annotations

import logging

import pytest

from control_plane.analysis.llm import (
    LLMRequest,
    LLMResponse,
    ProviderChain,
    ProviderFailure,
    ProviderResponseInvalid,
    ProviderUnavailable,
)
from tests.unit.llm.conftest import build_request

pytestmark = pytest.mark.asyncio


class StubAdapter:
    def __init__(self, name: str, outcome: LLMResponse | Exception) -> None:
        self._name = name
        self._outcome = outcome
        self.calls = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def model(self) -> str:
        return "stub-model"

    async def complete(self, request: LLMRequest) -> LLMResponse:
        self.calls += 1
        if isinstance(self._outcome, Exception):
            raise self._outcome
        return self._outcome


def answer(provider: str) -> LLMResponse:
    return LLMResponse(text="{}", provider=provider, model="stub-model", input_tokens=1, output_tokens=1)


async def test_first_working_provider_answers_and_later_ones_are_not_called() -> None:
    first = StubAdapter("a", answer("a"))
    second = StubAdapter("b", answer("b"))

    response = await ProviderChain([first, second]).complete(build_request())

    assert response is not None and response.provider == "a"
    assert (first.calls, second.calls) == (1, 0)


async def test_every_failure_is_recorded_in_order(caplog: pytest.LogCaptureFixture) -> None:
    chain = ProviderChain(
        [
            StubAdapter("deepseek", ProviderUnavailable("deepseek", "HTTP 503 after 3 attempt(s)")),
            StubAdapter("gemini", ProviderResponseInvalid("gemini", "response body is not JSON")),
            StubAdapter("anthropic", answer("anthropic")),
        ]
    )

    with caplog.at_level(logging.WARNING, logger="control_plane.analysis.llm"):
        outcome = await chain.attempt(build_request())

    assert outcome.response is not None and outcome.response.provider == "anthropic"
    assert outcome.failures == (
        ProviderFailure("deepseek", "HTTP 503 after 3 attempt(s)"),
        ProviderFailure("gemini", "response body is not JSON"),
    )
    assert "LLM provider deepseek failed: HTTP 503 after 3 attempt(s)" in caplog.messages


async def test_none_available_returns_none_for_rules_alone(caplog: pytest.LogCaptureFixture) -> None:
    chain = ProviderChain([StubAdapter("a", ProviderUnavailable("a", "HTTP 500 after 3 attempt(s)"))])

    with caplog.at_level(logging.WARNING, logger="control_plane.analysis.llm"):
        assert await chain.complete(build_request()) is None

    assert chain.last_failures == (ProviderFailure("a", "HTTP 500 after 3 attempt(s)"),)
    assert any("rules alone" in message for message in caplog.messages)


async def test_no_configured_provider_returns_none_quietly() -> None:
    chain = ProviderChain([])
    assert chain.providers == ()
    assert await chain.complete(build_request()) is None
    assert chain.last_failures == ()


async def test_bugs_are_not_mistaken_for_outages() -> None:
    chain = ProviderChain([StubAdapter("a", KeyError("bug")), StubAdapter("b", answer("b"))])
    with pytest.raises(KeyError):
        await chain.complete(build_request())
