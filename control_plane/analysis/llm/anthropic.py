"""Anthropic Messages API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from control_plane.analysis.llm.http_adapter import HttpAdapter
from control_plane.analysis.llm.provider import (
    LLMRequest,
    LLMResponse,
    ProviderResponseInvalid,
)

ANTHROPIC_VERSION = "2023-06-01"


class _ContentBlock(BaseModel):
    type: str
    text: str | None = None


class _Usage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    # Cached prompt tokens are reported apart from input_tokens but are still input.
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None


class _Message(BaseModel):
    type: str
    model: str | None = None
    content: list[_ContentBlock]
    stop_reason: str | None = None
    usage: _Usage | None = None


class AnthropicAdapter(HttpAdapter):
    def build_body(self, request: LLMRequest) -> dict[str, Any]:
        # The Messages API has no JSON mode; the system prompt is what asks for JSON, and
        # parse_structured validates whatever comes back.
        return {
            "model": self._config.model,
            "max_tokens": request.max_output_tokens,
            "system": request.system,
            "messages": [{"role": "user", "content": request.user}],
        }

    def build_headers(self) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "x-api-key": self._config.api_key.get_secret_value(),
            "anthropic-version": ANTHROPIC_VERSION,
        }

    async def complete(self, request: LLMRequest) -> LLMResponse:
        message = await self._post(f"{self._config.resolved_base_url}/v1/messages", request, _Message)
        if message.type != "message":
            raise ProviderResponseInvalid(self.name, f"unexpected object type {message.type!r}")
        texts = [block.text for block in message.content if block.type == "text" and block.text is not None]
        if not texts:
            raise ProviderResponseInvalid(
                self.name, f"message has no text block (stop_reason={message.stop_reason})"
            )
        usage = message.usage or _Usage()
        return LLMResponse(
            text="".join(texts),
            provider=self.name,
            model=message.model or self._config.model,
            input_tokens=usage.input_tokens
            + (usage.cache_creation_input_tokens or 0)
            + (usage.cache_read_input_tokens or 0),
            output_tokens=usage.output_tokens,
        )
