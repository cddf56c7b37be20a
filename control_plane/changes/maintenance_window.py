"""When a database's apply and rollback jobs may run: days and hours in the database's time zone.

Checked when the agent leases jobs, with the current time from a clock the caller passes in: while
the window is closed, change jobs stay queued (simulations still go out), and the first lease
after it opens hands them over. A window whose end is not after its start runs past midnight
(22:00-04:00 is open from 22:00 on a listed day until 04:00 the next day); equal start and end is
the whole listed day.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, field_validator, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.databases.repository import DatabaseRepository
from control_plane.tenancy.context import TenantContext

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HH_MM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class MaintenanceWindow(BaseModel):
    days: list[Day] = Field(min_length=1, max_length=7)
    start: str = Field(pattern=HH_MM, examples=["22:00"])
    end: str = Field(pattern=HH_MM, examples=["04:00"])
    time_zone: str = Field(default="UTC", max_length=64, examples=["Europe/Berlin"])

    @field_validator("days")
    @classmethod
    def _distinct(cls, days: list[Day]) -> list[Day]:
        return sorted(set(days), key=DAYS.index)

    @model_validator(mode="after")
    def _known_zone(self) -> MaintenanceWindow:
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {self.time_zone!r}; use an IANA name such as Europe/Berlin"
            ) from None
        return self


def _clock_time(hh_mm: str) -> time:
    hours, minutes = hh_mm.split(":")
    return time(int(hours), int(minutes))


def is_open(window: MaintenanceWindow | None, now: datetime) -> bool:
    """True when change jobs may run at `now` (timezone-aware); no window means always."""
    if window is None:
        return True
    local = now.astimezone(ZoneInfo(window.time_zone))
    start, end, at = _clock_time(window.start), _clock_time(window.end), local.time()
    today = DAYS[local.weekday()]
    yesterday = DAYS[(local - timedelta(days=1)).weekday()]
    if start == end:
        return today in window.days
    if start < end:
        return today in window.days and start <= at < end
    # Past midnight: the evening of a listed day, or the early hours after one.
    return (today in window.days and at >= start) or (yesterday in window.days and at < end)


def stored_window(document: dict[str, Any] | None) -> MaintenanceWindow | None:
    return None if document is None else MaintenanceWindow.model_validate(document)


async def change_window_open(
    session: AsyncSession, context: TenantContext, database_id: uuid.UUID, now: datetime
) -> bool:
    """May the database's apply and rollback jobs be handed out at `now`?"""
    database = await DatabaseRepository(session, context).get(database_id)
    return database is None or is_open(stored_window(database.maintenance_window), now)
