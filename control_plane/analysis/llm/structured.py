"""Turn a model's text into validated data, or a Rejection that says why not.

Model output is untrusted input: it may be prose, truncated JSON, or JSON of another
shape. None of that may raise into analysis; it is dropped with the reason recorded.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)

# Models asked for bare JSON still sometimes wrap it in a Markdown fence.
_FENCE = re.compile(r"```(?:json)?\s*\n?(.*?)```", re.DOTALL | re.IGNORECASE)
_MAX_REPORTED_ERRORS = 3


@dataclass(frozen=True)
class Rejection:
    reason: str


class Suggestion(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["create_index", "rewrite", "config", "advisory"]
    table: str | None = None
    columns: list[str] = Field(default_factory=list)
    sql: str | None = None
    rationale: str = Field(min_length=1)
    confidence: float = Field(ge=0.0, le=1.0)
    risk: Literal["low", "medium", "high"]


class SuggestionSet(BaseModel):
    """What analysis asks the model for. Extra keys are ignored; missing or mistyped ones reject."""

    model_config = ConfigDict(frozen=True)

    suggestions: list[Suggestion]
    explanation: str | None = None


def extract_json_object(text: str) -> dict[str, Any] | Rejection:
    """Find the JSON object in `text`: whole text, a fenced block, or the first {...} in prose."""
    stripped = text.strip()
    if not stripped:
        return Rejection("empty response")
    fenced = _FENCE.search(stripped)
    candidate = fenced.group(1).strip() if fenced else stripped
    try:
        value: Any = json.loads(candidate)
    except json.JSONDecodeError:
        start = candidate.find("{")
        if start < 0:
            return Rejection("response is not JSON")
        try:
            # raw_decode stops at the end of the first object, tolerating trailing prose.
            value, _ = json.JSONDecoder().raw_decode(candidate, start)
        except json.JSONDecodeError as exc:
            return Rejection(f"response is not valid JSON ({exc.msg} at position {exc.pos})")
    if not isinstance(value, dict):
        return Rejection(f"expected a JSON object, got {type(value).__name__}")
    return value


def describe_validation_error(exc: ValidationError) -> str:
    # include_input=False keeps model-generated content out of logs and stored reasons.
    errors = exc.errors(include_url=False, include_input=False)
    parts = [
        f"{'.'.join(str(p) for p in error['loc']) or '<root>'}: {error['msg']}"
        for error in errors[:_MAX_REPORTED_ERRORS]
    ]
    more = len(errors) - _MAX_REPORTED_ERRORS
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def parse_structured(text: str, model: type[ModelT]) -> ModelT | Rejection:
    """Validate `text` as `model`; never raises for bad model output."""
    extracted = extract_json_object(text)
    if isinstance(extracted, Rejection):
        return extracted
    try:
        return model.model_validate(extracted)
    except ValidationError as exc:
        return Rejection(f"wrong shape for {model.__name__}: {describe_validation_error(exc)}")
