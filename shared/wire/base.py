"""Building blocks every wire model shares: the strict base model and the constrained scalar types.

They live apart from the snapshot so that models the snapshot itself carries (the agent's findings)
can use them without an import cycle; `shared.wire.snapshot` re-exports them for older imports.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

NonNegativeInt = Annotated[int, Field(ge=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
Fingerprint = Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]


class WireModel(BaseModel):
    # A payload with unknown keys is malformed: rejecting it whole beats storing half of it.
    model_config = ConfigDict(extra="forbid", frozen=True)


__all__ = ["Fingerprint", "NonNegativeFloat", "NonNegativeInt", "WireModel"]
