"""Building blocks every wire model shares: the strict base model and the constrained scalar types.

They live apart from the snapshot so that models the snapshot itself carries (the agent's findings)
can use them without an import cycle; `shared.wire.snapshot` re-exports them for older imports.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

# PostgreSQL's bigint and integer: a count above these cannot be stored, so it is a malformed payload
# (422) rather than an overflow inside the server (500).
BIGINT_MAX = 2**63 - 1
INTEGER_MAX = 2**31 - 1

NonNegativeInt = Annotated[int, Field(ge=0, le=BIGINT_MAX)]
NonNegativeInt32 = Annotated[int, Field(ge=0, le=INTEGER_MAX)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
Fingerprint = Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]


class WireModel(BaseModel):
    # A payload with unknown keys is malformed: rejecting it whole beats storing half of it.
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul_characters(cls, value: object) -> object:
        # PostgreSQL text cannot hold U+0000: such a payload would fail deep inside ingestion (a 500,
        # or a snapshot lost in the worker) instead of being refused whole, here, with a 422.
        if _holds_nul(value):
            raise ValueError("text must not contain NUL (U+0000) characters")
        return value


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple | set | frozenset):
        return any(_holds_nul(item) for item in value)
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    return False


__all__ = [
    "BIGINT_MAX",
    "INTEGER_MAX",
    "Fingerprint",
    "NonNegativeFloat",
    "NonNegativeInt",
    "NonNegativeInt32",
    "WireModel",
]
