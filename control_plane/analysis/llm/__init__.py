"""LLM provider layer: adapters per vendor, retries, failover, and validated structured output."""

from control_plane.analysis.llm.anthropic import AnthropicAdapter
from control_plane.analysis.llm.failover import ChainOutcome, ProviderChain, ProviderFailure, build_adapter
from control_plane.analysis.llm.gemini import GeminiAdapter
from control_plane.analysis.llm.openai_compatible import OpenAICompatibleAdapter
from control_plane.analysis.llm.provider import (
    DEFAULT_BASE_URLS,
    LLMRequest,
    LLMResponse,
    ProviderAdapter,
    ProviderConfig,
    ProviderError,
    ProviderKind,
    ProviderResponseInvalid,
    ProviderUnavailable,
)
from control_plane.analysis.llm.structured import Rejection, Suggestion, SuggestionSet, parse_structured

__all__ = [
    "DEFAULT_BASE_URLS",
    "AnthropicAdapter",
    "ChainOutcome",
    "GeminiAdapter",
    "LLMRequest",
    "LLMResponse",
    "OpenAICompatibleAdapter",
    "ProviderAdapter",
    "ProviderChain",
    "ProviderConfig",
    "ProviderError",
    "ProviderFailure",
    "ProviderKind",
    "ProviderResponseInvalid",
    "ProviderUnavailable",
    "Rejection",
    "Suggestion",
    "SuggestionSet",
    "build_adapter",
    "parse_structured",
]
