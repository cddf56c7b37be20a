"""The arithmetic of measured proof: per-statement cuts, weighted by time before, and the verdict."""

from __future__ import annotations

import pytest

from control_plane.changes.measured import compare, verdict, weighted_improvement
from control_plane.settings import Settings


def test_statements_without_enough_calls_in_either_window_are_left_out() -> None:
    before = {"a": (100, 1000.0, 50), "b": (3, 30.0, 0), "c": (100, 100.0, 0)}
    after = {"a": (100, 100.0, 0), "b": (100, 10.0, 0)}

    (only,) = compare(before, after, min_calls=10)

    assert only.fingerprint == "a" and only.improvement_pct == 90.0
    assert (only.blocks_read_per_call_before, only.blocks_read_per_call_after) == (0.5, 0.0)


def test_the_figure_is_weighted_by_each_statements_time_before() -> None:
    # "slow" took 900 ms before and halved; "fast" took 100 ms before and doubled.
    changes = compare(
        {"slow": (10, 900.0, 0), "fast": (10, 100.0, 0)},
        {"slow": (10, 450.0, 0), "fast": (10, 200.0, 0)},
        min_calls=1,
    )

    assert weighted_improvement(changes) == pytest.approx((50.0 * 900 - 100.0 * 100) / 1000)
    assert weighted_improvement([]) == 0.0


@pytest.mark.parametrize(
    ("pct", "expected"), [(10.0, "improved"), (9.9, "neutral"), (-9.9, "neutral"), (-10.0, "regressed")]
)
def test_verdict_thresholds(pct: float, expected: str) -> None:
    settings = Settings(metadata_url="postgresql://x/y", env="development")

    assert verdict(pct, settings) == expected
