"""Where the heatmap's buckets fall.

Buckets at least an hour wide are whole hours (rounded up: 30 days in 48 buckets are 48 buckets of
15 hours, 720 / 48) starting on the hour the range starts in, so each hourly rollup falls in exactly
one bucket and the cells are summed from the rollups, the range's cut edge hours from raw rows
(control_plane.queries.repository: the sums equal the raw rows'). That grid can need one bucket
more than asked for, when the range does not start on a bucket boundary. Narrower buckets split
[from, to] exactly and are summed from the raw intervals (at most `buckets` hours of them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from control_plane.ingestion.repository import ROLLUP_BUCKET, rollup_bucket


@dataclass(frozen=True)
class Grid:
    start: datetime
    width: timedelta
    count: int
    hourly: bool

    @property
    def starts(self) -> list[datetime]:
        return [self.start + index * self.width for index in range(self.count)]


def grid_for(since: datetime, until: datetime, buckets: int) -> Grid:
    """`since` < `until`, `buckets` >= 1."""
    width = (until - since) / buckets
    if width < ROLLUP_BUCKET:
        return Grid(start=since, width=width, count=buckets, hourly=False)
    hours = math.ceil(width / ROLLUP_BUCKET)
    start = rollup_bucket(since)
    whole = hours * ROLLUP_BUCKET
    return Grid(start=start, width=whole, count=(until - start) // whole + 1, hourly=True)
