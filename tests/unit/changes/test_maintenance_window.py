"""When a maintenance window is open, in its own time zone, including windows past midnight."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from control_plane.changes.maintenance_window import MaintenanceWindow, is_open

BERLIN_NIGHTS = MaintenanceWindow(days=["sat"], start="22:00", end="04:00", time_zone="Europe/Berlin")
OFFICE = MaintenanceWindow(days=["mon", "tue"], start="09:00", end="17:00", time_zone="UTC")


@pytest.mark.parametrize(
    ("window", "now", "expected"),
    [
        (None, datetime(2026, 3, 2, 3, 0, tzinfo=UTC), True),
        (OFFICE, datetime(2026, 3, 2, 9, 0, tzinfo=UTC), True),  # Monday, at the start
        (OFFICE, datetime(2026, 3, 2, 17, 0, tzinfo=UTC), False),  # the end is not inside
        (OFFICE, datetime(2026, 3, 4, 12, 0, tzinfo=UTC), False),  # Wednesday
        # Saturday 7 March 2026, 21:30 UTC is 22:30 in Berlin (CET, UTC+1).
        (BERLIN_NIGHTS, datetime(2026, 3, 7, 21, 30, tzinfo=UTC), True),
        (BERLIN_NIGHTS, datetime(2026, 3, 7, 20, 30, tzinfo=UTC), False),
        # Sunday 02:30 Berlin: still Saturday night's window.
        (BERLIN_NIGHTS, datetime(2026, 3, 8, 1, 30, tzinfo=UTC), True),
        (BERLIN_NIGHTS, datetime(2026, 3, 8, 3, 30, tzinfo=UTC), False),
        # Friday night is not in it.
        (BERLIN_NIGHTS, datetime(2026, 3, 7, 1, 30, tzinfo=UTC), False),
    ],
)
def test_open_or_closed(window: MaintenanceWindow | None, now: datetime, expected: bool) -> None:
    assert is_open(window, now) is expected


def test_equal_start_and_end_is_the_whole_listed_day() -> None:
    sundays = MaintenanceWindow(days=["sun"], start="00:00", end="00:00")

    assert is_open(sundays, datetime(2026, 3, 8, 23, 59, tzinfo=UTC))
    assert not is_open(sundays, datetime(2026, 3, 9, 0, 0, tzinfo=UTC))


@pytest.mark.parametrize(
    "bad",
    [
        {"days": [], "start": "01:00", "end": "02:00"},
        {"days": ["mon"], "start": "1:00", "end": "02:00"},
        {"days": ["monday"], "start": "01:00", "end": "02:00"},
        {"days": ["mon"], "start": "01:00", "end": "02:00", "time_zone": "Nowhere/Else"},
    ],
)
def test_malformed_windows_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        MaintenanceWindow.model_validate(bad)
