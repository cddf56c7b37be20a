"""What every vendor adapter shares: its config, the HTTP client, and one retried JSON POST.

A vendor adapter only says how its request looks (`build_body`, `build_headers`, the URL) and how
its answer reads; retries, backoff and the decoding of the envelope are the same for all.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx

from control_plane.analysis.llm.provider import EnvelopeT, LLMRequest, ProviderConfig, parse_envelope
from control_plane.analysis.llm.retry import Jitter, Sleep, post_with_retries


class HttpAdapter:
    def __init__(
        self,
        config: ProviderConfig,
        client: httpx.AsyncClient,
        *,
        sleep: Sleep = asyncio.sleep,
        jitter: Jitter = random.random,
    ) -> None:
        self._config = config
        self._client = client
        self._sleep = sleep
        self._jitter = jitter

    @property
    def name(self) -> str:
        return self._config.label

    @property
    def model(self) -> str:
        return self._config.model

    def build_body(self, request: LLMRequest) -> dict[str, Any]:
        raise NotImplementedError

    def build_headers(self) -> dict[str, str]:
        raise NotImplementedError

    async def _post(self, url: str, request: LLMRequest, envelope: type[EnvelopeT]) -> EnvelopeT:
        response = await post_with_retries(
            self._client,
            self._config,
            url,
            headers=self.build_headers(),
            body=self.build_body(request),
            sleep=self._sleep,
            jitter=self._jitter,
        )
        return parse_envelope(response, envelope, self.name)
