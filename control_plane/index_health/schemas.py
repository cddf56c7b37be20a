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
    table_writes_per_second: float | None = Field(
        default=None,
        description="Rows the table's writes changed per second over the last hour of snapshots: the"
        " writes every index on it slows; null when no snapshot covers a known interval",
    )
