"""Building blocks every wire model shares: the strict base model and the constrained scalar types.

They live apart from the snapshot so that models the snapshot itself carries (the agent's findings)
can use them without an import cycle; `shared.wire.snapshot` re-exports them for older imports.
"""

from __future__ import annotations

import re
from typing import Annotated, Final, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

# PostgreSQL's bigint and integer: a count above these cannot be stored, so it is a malformed payload
# (422) rather than an overflow inside the server (500).
BIGINT_MAX = 2**63 - 1
INTEGER_MAX = 2**31 - 1

NonNegativeInt = Annotated[int, Field(ge=0, le=BIGINT_MAX)]
NonNegativeInt32 = Annotated[int, Field(ge=0, le=INTEGER_MAX)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
# A fingerprint (shared.sql.fingerprint): the first 16 hex digits of a sha256, in lowercase.
FINGERPRINT_LENGTH: Final = 16
FINGERPRINT_PATTERN: Final = rf"^[0-9a-f]{{{FINGERPRINT_LENGTH}}}$"
Fingerprint = Annotated[str, Field(pattern=FINGERPRINT_PATTERN)]


class WireModel(BaseModel):
    # A payload with unknown keys is malformed: rejecting it whole beats storing half of it.
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="after")
    def _no_nul_characters(self, info: ValidationInfo) -> Self:
        # PostgreSQL text cannot hold U+0000: such a payload would fail deep inside ingestion (a 500,
        # or a snapshot lost in the worker) instead of being refused whole, here, with a 422.
        # Once per model, not per field: a 5,000-statement snapshot has ~110,000 fields and ~6,500
        # models, and a Python call per field took ~200 ms of its ~280 ms validation. A caller that
        # checked its whole JSON text at once (`json_holds_nul`, a C-speed scan) skips even these.
        if info.context is not None and info.context.get("nul_free") is True:
            return self
        for name in type(self).model_fields:
            if _holds_nul(getattr(self, name)):
                raise ValueError(f"{name}: text must not contain NUL (U+0000) characters")
        return self


NUL_FREE: Final = {"nul_free": True}  # validation context: the JSON text holds no NUL
# A JSON string holds NUL only as the escape \u0000 (a raw NUL byte is invalid JSON and refused
# by the parser): an odd run of backslashes before "u0000", so "\\u0000" (a backslash, then the
# text u0000) does not count.
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def json_holds_nul(text: bytes) -> bool:
    if b"\x00" in text:
        return True
    # The regex is slow (a look-behind at every byte); the plain search rules out nearly every text.
    # Backwards: that search skips ahead until the needle's first byte, the rare backslash, where a
    # forward one stops at its last, at every 0 of every number (0.8 vs 1.9 ms for 3.2 MB).
    return text.rfind(b"\\u0000") >= 0 and _JSON_NUL.search(text) is not None


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
    "NUL_FREE",
    "Fingerprint",
    "NonNegativeFloat",
    "NonNegativeInt",
    "NonNegativeInt32",
    "WireModel",
    "json_holds_nul",
]
