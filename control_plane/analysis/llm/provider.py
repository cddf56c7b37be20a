"""Shared vocabulary of the LLM provider layer: configuration, request, response, errors.

Every adapter speaks this vocabulary so the failover chain and the analysis code never
need to know which vendor answered. Nothing here performs I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

ProviderKind = Literal["openai", "gemini", "anthropic"]

DEFAULT_BASE_URLS: dict[ProviderKind, str] = {
    "openai": "https://api.openai.com/v1",
    "gemini": "https://generativelanguage.googleapis.com",
    "anthropic": "https://api.anthropic.com",
}


@dataclass(frozen=True)
class ProviderConfig:
    """One configured provider.

    `api_key` is a SecretStr and excluded from repr so that a config printed in a log line
    or a traceback never carries the key. `name` lets an operator tell two OpenAI-compatible
    providers apart (e.g. "deepseek" and "ollama") in logs and failure reports.
    """

    kind: ProviderKind
    model: str
    api_key: SecretStr = field(default_factory=lambda: SecretStr(""), repr=False)
    base_url: str = ""
    name: str = ""
    timeout_s: float = 30.0
    max_retries: int = 2
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 8.0

    def __post_init__(self) -> None:
        if self.kind not in DEFAULT_BASE_URLS:
            raise ValueError(f"unknown provider kind {self.kind!r}")
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if self.timeout_s <= 0 or self.backoff_initial_s < 0 or self.backoff_max_s < 0:
            raise ValueError("timeout_s must be > 0 and backoff delays >= 0")

    @property
    def label(self) -> str:
        return self.name or self.kind

    @property
    def resolved_base_url(self) -> str:
        # Trailing slashes are stripped so "{base}/chat/completions" never doubles them.
        return (self.base_url or DEFAULT_BASE_URLS[self.kind]).rstrip("/")


@dataclass(frozen=True)
class LLMRequest:
    """What analysis asks of a model. The prompts must already be anonymized."""

    system: str
    user: str
    max_output_tokens: int = 2048


@dataclass(frozen=True)
class LLMResponse:
    text: str
    provider: str
    model: str
    input_tokens: int
    output_tokens: int


class ProviderError(Exception):
    """Base of the errors an adapter raises; the failover chain catches exactly these.

    Messages are built from status codes and exception class names only, never from
    headers or response bodies, because some vendors echo part of the key back in a 401.
    """

    def __init__(self, provider: str, reason: str) -> None:
        super().__init__(f"{provider}: {reason}")
        self.provider = provider
        self.reason = reason


class ProviderUnavailable(ProviderError):
    """Retries exhausted, timeout, 5xx, network failure, or a request the provider refused."""


class ProviderResponseInvalid(ProviderError):
    """The provider answered 2xx but the body is not JSON or not in its documented shape."""


class ProviderAdapter(Protocol):
    """One vendor's wire format behind a common call."""

    @property
    def name(self) -> str: ...

    @property
    def model(self) -> str: ...

    async def complete(self, request: LLMRequest) -> LLMResponse: ...


EnvelopeT = TypeVar("EnvelopeT", bound=BaseModel)


def parse_envelope(response: httpx.Response, envelope: type[EnvelopeT], provider: str) -> EnvelopeT:
    """Decode a provider's 2xx body into its pydantic envelope model.

    A proxy or captive portal can answer 200 with HTML, so decoding is checked too.
    """
    try:
        payload: Any = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ProviderResponseInvalid(provider, "response body is not JSON") from None
    try:
        return envelope.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise ProviderResponseInvalid(
            provider, f"unexpected response shape at {where}: {first['msg']}"
        ) from None
