from __future__ import annotations

import uuid

from pydantic import BaseModel, Field

from shared.index_findings import IndexKind


class IndexHealthRow(BaseModel):
    index: str = Field(description="schema.name")
    table: str = Field(description="schema.table")
    kind: IndexKind
    size_bytes: int
    scans: int = Field(
        description="idx_scan on the primary since statistics were reset; replicas not counted"
    )
    reason: str
    recommendation_id: uuid.UUID | None = Field(description="The drop_index recommendation to approve")
    recommendation_status: str | None = None
