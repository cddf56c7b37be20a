"""Google Gemini generateContent (Generative Language API, v1beta)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from control_plane.analysis.llm.http_adapter import HttpAdapter
from control_plane.analysis.llm.provider import (
    LLMRequest,
    LLMResponse,
    ProviderResponseInvalid,
)


class _Part(BaseModel):
    text: str | None = None
    # Thinking models may return their reasoning as parts flagged thought=true.
    thought: bool = False


class _Content(BaseModel):
    parts: list[_Part] = Field(default_factory=list)


class _Candidate(BaseModel):
    # Absent when the candidate was blocked (finishReason SAFETY, RECITATION, ...).
    content: _Content | None = None
    finish_reason: str | None = Field(default=None, alias="finishReason")


class _UsageMetadata(BaseModel):
    prompt_tokens: int = Field(default=0, alias="promptTokenCount")
    candidates_tokens: int = Field(default=0, alias="candidatesTokenCount")
    thoughts_tokens: int = Field(default=0, alias="thoughtsTokenCount")


class _GenerateContentResponse(BaseModel):
    candidates: list[_Candidate] = Field(min_length=1)
    usage: _UsageMetadata | None = Field(default=None, alias="usageMetadata")
    model_version: str | None = Field(default=None, alias="modelVersion")


class GeminiAdapter(HttpAdapter):
    def build_body(self, request: LLMRequest) -> dict[str, Any]:
        return {
            "systemInstruction": {"parts": [{"text": request.system}]},
            "contents": [{"role": "user", "parts": [{"text": request.user}]}],
            "generationConfig": {
                "responseMimeType": "application/json",
                "maxOutputTokens": request.max_output_tokens,
            },
        }

    def build_headers(self) -> dict[str, str]:
        # The key goes in a header, not the documented ?key= query parameter, so it can
        # never surface in a URL that httpx or a proxy might log.
        return {
            "Content-Type": "application/json",
            "x-goog-api-key": self._config.api_key.get_secret_value(),
        }

    async def complete(self, request: LLMRequest) -> LLMResponse:
        url = f"{self._config.resolved_base_url}/v1beta/models/{self._config.model}:generateContent"
        parsed = await self._post(url, request, _GenerateContentResponse)
        candidate = parsed.candidates[0]
        texts = [
            part.text
            for part in (candidate.content.parts if candidate.content else [])
            if part.text is not None and not part.thought
        ]
        if not texts:
            raise ProviderResponseInvalid(
                self.name, f"candidate has no text (finishReason={candidate.finish_reason})"
            )
        usage = parsed.usage or _UsageMetadata()
        return LLMResponse(
            text="".join(texts),
            provider=self.name,
            model=parsed.model_version or self._config.model,
            input_tokens=usage.prompt_tokens,
            # Thinking tokens are billed as output, so they count toward the tenant's usage.
            output_tokens=usage.candidates_tokens + usage.thoughts_tokens,
        )
