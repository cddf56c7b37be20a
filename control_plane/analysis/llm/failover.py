"""Try the configured providers in order; when none answers, the caller uses rules alone.

An LLM is an enhancement to rule-based analysis, never a dependency: a chain that cannot
get an answer returns None rather than raising, and says why for each provider.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import assert_never

import httpx

from control_plane.analysis.llm.anthropic import AnthropicAdapter
from control_plane.analysis.llm.gemini import GeminiAdapter
from control_plane.analysis.llm.openai_compatible import OpenAICompatibleAdapter
from control_plane.analysis.llm.provider import (
    LLMRequest,
    LLMResponse,
    ProviderAdapter,
    ProviderConfig,
    ProviderError,
)
from control_plane.analysis.llm.retry import Jitter, Sleep

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProviderFailure:
    provider: str
    reason: str


@dataclass(frozen=True)
class ChainOutcome:
    """The answer (or None) plus why each provider tried before it failed."""

    response: LLMResponse | None
    failures: tuple[ProviderFailure, ...] = field(default_factory=tuple)


def build_adapter(
    config: ProviderConfig,
    client: httpx.AsyncClient,
    *,
    sleep: Sleep = asyncio.sleep,
    jitter: Jitter = random.random,
) -> ProviderAdapter:
    if config.kind == "openai":
        return OpenAICompatibleAdapter(config, client, sleep=sleep, jitter=jitter)
    if config.kind == "gemini":
        return GeminiAdapter(config, client, sleep=sleep, jitter=jitter)
    if config.kind == "anthropic":
        return AnthropicAdapter(config, client, sleep=sleep, jitter=jitter)
    # Unreachable for type-checked callers; a kind read from untyped settings fails loudly here.
    assert_never(config.kind)


class ProviderChain:
    def __init__(self, adapters: Sequence[ProviderAdapter]) -> None:
        self._adapters = tuple(adapters)
        # Set by complete() for callers that run one request at a time; concurrent callers
        # sharing a chain should use attempt(), whose outcome is not shared state.
        self.last_failures: tuple[ProviderFailure, ...] = ()

    @classmethod
    def from_configs(
        cls,
        configs: Sequence[ProviderConfig],
        client: httpx.AsyncClient,
        *,
        sleep: Sleep = asyncio.sleep,
        jitter: Jitter = random.random,
    ) -> ProviderChain:
        return cls([build_adapter(config, client, sleep=sleep, jitter=jitter) for config in configs])

    @property
    def providers(self) -> tuple[str, ...]:
        return tuple(adapter.name for adapter in self._adapters)

    async def attempt(self, request: LLMRequest) -> ChainOutcome:
        failures: list[ProviderFailure] = []
        for adapter in self._adapters:
            try:
                response = await adapter.complete(request)
            except ProviderError as exc:
                # Only ProviderError is caught: anything else is a bug in this layer and
                # should surface rather than be mistaken for an outage.
                failures.append(ProviderFailure(adapter.name, exc.reason))
                logger.warning("LLM provider %s failed: %s", adapter.name, exc.reason)
                continue
            if failures:
                logger.info("LLM request answered by %s after failover", adapter.name)
            return ChainOutcome(response, tuple(failures))
        if self._adapters:
            logger.warning("No LLM provider available; analysis falls back to rules alone")
        return ChainOutcome(None, tuple(failures))

    async def complete(self, request: LLMRequest) -> LLMResponse | None:
        outcome = await self.attempt(request)
        self.last_failures = outcome.failures
        return outcome.response
