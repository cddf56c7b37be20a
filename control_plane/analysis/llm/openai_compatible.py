"""OpenAI-compatible chat completions: OpenAI, Azure OpenAI (v1 API), DeepSeek, vLLM, Ollama.

All of these accept POST {base_url}/chat/completions with a Bearer key and answer in the
same envelope, so one adapter with a configurable base URL covers them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from control_plane.analysis.llm.http_adapter import HttpAdapter
from control_plane.analysis.llm.provider import (
    LLMRequest,
    LLMResponse,
    ProviderResponseInvalid,
)


class _Message(BaseModel):
    # Null when the model refuses; treated as an invalid response below.
    content: str | None = None


class _Choice(BaseModel):
    message: _Message
    finish_reason: str | None = None


class _Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class _ChatCompletion(BaseModel):
    model: str | None = None
    choices: list[_Choice] = Field(min_length=1)
    # Some compatible servers (older Ollama, vLLM with stats off) omit usage.
    usage: _Usage | None = None


class OpenAICompatibleAdapter(HttpAdapter):
    def build_body(self, request: LLMRequest) -> dict[str, Any]:
        return {
            "model": self._config.model,
            "messages": [
                {"role": "system", "content": request.system},
                {"role": "user", "content": request.user},
            ],
            # JSON mode: the server constrains output to a JSON object (the prompt must say "JSON").
            "response_format": {"type": "json_object"},
            "max_tokens": request.max_output_tokens,
        }

    def build_headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        key = self._config.api_key.get_secret_value()
        # Local servers (Ollama, vLLM without --api-key) need no key; omit rather than send "Bearer ".
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    async def complete(self, request: LLMRequest) -> LLMResponse:
        completion = await self._post(
            f"{self._config.resolved_base_url}/chat/completions", request, _ChatCompletion
        )
        choice = completion.choices[0]
        if choice.message.content is None:
            raise ProviderResponseInvalid(
                self.name, f"choice has no content (finish_reason={choice.finish_reason})"
            )
        usage = completion.usage or _Usage()
        return LLMResponse(
            text=choice.message.content,
            provider=self.name,
            model=completion.model or self._config.model,
            input_tokens=usage.prompt_tokens,
            output_tokens=usage.completion_tokens,
        )
