from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class HeatmapRow(BaseModel):
    fingerprint: str
    query: str
    total_exec_time_ms: float = Field(description="Over the whole range: the sum of the cells")
    cells: list[float] = Field(description="Execution time (ms) in each bucket, in the buckets' order")


class Heatmap(BaseModel):
    buckets: list[datetime] = Field(description="Each bucket's start; a bucket lasts bucket_seconds")
    bucket_seconds: float
    resolution: Literal["interval", "hour"] = Field(
        description="hour: buckets are whole UTC hours added up from the hourly rollups (their first "
        "bucket starts on the hour the range starts in); interval: raw agent intervals, from `from`"
    )
    rows: list[HeatmapRow] = Field(description="The busiest statements over the range, busiest first")
