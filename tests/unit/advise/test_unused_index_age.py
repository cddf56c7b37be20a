"""The age in an unused index's reason reads as a person would say it, down to minutes: the minimum
age is a setting (OPTISCHEMA_MIN_STATS_AGE_H) and may be below an hour."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.index_findings import unused_indexes
from shared.wire.snapshot import IndexStats
from tests.index_stats import index_stats


def unused_index() -> IndexStats:
    return index_stats("order_items_note_idx", ["note"], table="order_items", size=65536)


@pytest.mark.parametrize(
    ("age", "said"),
    [
        (timedelta(seconds=30), "0 minutes"),
        (timedelta(minutes=1, seconds=5), "1 minute"),
        (timedelta(minutes=42), "42 minutes"),
        (timedelta(hours=1, minutes=30), "1 hour"),
        (timedelta(hours=5), "5 hours"),
        (timedelta(days=30), "30 days"),
    ],
)
def test_the_statistics_age_is_said_in_the_largest_whole_unit(age: timedelta, said: str) -> None:
    [finding] = unused_indexes([unused_index()], stats_age=age, min_stats_age=timedelta(0))
    assert f"0 scans since statistics were reset {said} ago;" in finding.rationale
