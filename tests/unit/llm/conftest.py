"""Fixtures for the LLM provider tests: one ProviderCase per vendor with documented bodies.

The response bodies follow each vendor's published reference (ids, object/type fields,
finish reasons and usage blocks included) so the adapters are parsed against what the
providers actually send, not a minimal stand-in.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
import respx
from pydantic import SecretStr

from control_plane.analysis.llm import LLMRequest, ProviderConfig

SECRET = "sk-test-DO-NOT-LEAK-7f3a9c"
# What the agent saw, and what anonymization turned it into before it left the customer.
RAW_STATEMENT = "SELECT * FROM orders WHERE customer_id = 918273"
ANONYMIZED_STATEMENT = "SELECT * FROM orders WHERE customer_id = $1"
RAW_LITERAL = "918273"

VALID_SUGGESTIONS = {
    "suggestions": [
        {
            "kind": "create_index",
            "table": "orders",
            "columns": ["customer_id"],
            "sql": "CREATE INDEX CONCURRENTLY ON orders (customer_id)",
            "rationale": "Sequential scan on orders filtered by customer_id",
            "confidence": 0.86,
            "risk": "low",
        }
    ],
    "explanation": "The filter column has no index.",
}
VALID_TEXT = json.dumps(VALID_SUGGESTIONS)


def build_request(statement: str = ANONYMIZED_STATEMENT) -> LLMRequest:
    return LLMRequest(
        system="You are a PostgreSQL tuning assistant. Reply with a JSON object only.",
        user=f"Statement (parameters shown as $n placeholders):\n{statement}\nMean time 412 ms, 1 200 calls.",
        max_output_tokens=1024,
    )


class RecordedSleeps:
    """Async sleep stand-in: records the delays so tests never wait."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@dataclass(frozen=True)
class ProviderCase:
    name: str
    config: ProviderConfig
    url: str
    success: Callable[[str], dict[str, Any]]
    error_body: Callable[[int], dict[str, Any]]
    input_tokens: int
    output_tokens: int


def openai_success(text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "object": "chat.completion",
        "created": 1741569952,
        "model": "gpt-4o-2024-08-06",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None, "annotations": []},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 182,
            "completion_tokens": 97,
            "total_tokens": 279,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        },
        "service_tier": "default",
        "system_fingerprint": "fp_50cad350e4",
    }


def openai_error(status: int) -> dict[str, Any]:
    kind = {429: "requests", 401: "invalid_request_error"}.get(status, "server_error")
    return {"error": {"message": f"Upstream said {status}", "type": kind, "param": None, "code": None}}


def gemini_success(text: str) -> dict[str, Any]:
    return {
        "candidates": [
            {
                "content": {"parts": [{"text": text}], "role": "model"},
                "finishReason": "STOP",
                "avgLogprobs": -0.0731,
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 175,
            "candidatesTokenCount": 88,
            "totalTokenCount": 263,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 175}],
            "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": 88}],
        },
        "modelVersion": "gemini-2.0-flash",
        "responseId": "mK3sZ4LbFqWp1MkP2d6fkQ8",
    }


def gemini_error(status: int) -> dict[str, Any]:
    code = {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}.get(status, "UNKNOWN")
    return {"error": {"code": status, "message": f"Upstream said {status}", "status": code}}


def anthropic_success(text: str) -> dict[str, Any]:
    return {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-20250514",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 190,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 102,
        },
    }


def anthropic_error(status: int) -> dict[str, Any]:
    kind = {429: "rate_limit_error", 529: "overloaded_error", 401: "authentication_error"}.get(
        status, "api_error"
    )
    return {"type": "error", "error": {"type": kind, "message": f"Upstream said {status}"}}


def _config(kind: Any, model: str) -> ProviderConfig:
    return ProviderConfig(
        kind=kind,
        model=model,
        api_key=SecretStr(SECRET),
        timeout_s=5.0,
        max_retries=2,
        backoff_initial_s=0.5,
        backoff_max_s=8.0,
    )


CASES = {
    "openai": ProviderCase(
        name="openai",
        config=_config("openai", "gpt-4o"),
        url="https://api.openai.com/v1/chat/completions",
        success=openai_success,
        error_body=openai_error,
        input_tokens=182,
        output_tokens=97,
    ),
    "gemini": ProviderCase(
        name="gemini",
        config=_config("gemini", "gemini-2.0-flash"),
        url="https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent",
        success=gemini_success,
        error_body=gemini_error,
        input_tokens=175,
        output_tokens=88,
    ),
    "anthropic": ProviderCase(
        name="anthropic",
        config=_config("anthropic", "claude-sonnet-4-20250514"),
        url="https://api.anthropic.com/v1/messages",
        success=anthropic_success,
        error_body=anthropic_error,
        input_tokens=190,
        output_tokens=102,
    ),
}


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> ProviderCase:
    return CASES[request.param]


@pytest.fixture
def backup(case: ProviderCase) -> ProviderCase:
    """A different provider to fail over to."""
    order = sorted(CASES)
    return CASES[order[(order.index(case.name) + 1) % len(order)]]


@pytest.fixture
def sleeps() -> RecordedSleeps:
    return RecordedSleeps()


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    # assert_all_mocked: an unmocked URL fails the test instead of reaching the network.
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


@pytest_asyncio.fixture
async def client(router: respx.MockRouter) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http
