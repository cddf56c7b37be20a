from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class AuditEntry(BaseModel):
    """One event; the ids stay (`actor`, `object`), with the people and databases they name beside them."""

    at: datetime
    actor: str
    action: str
    object: str
    detail: dict[str, Any]
    actor_email: str | None = Field(
        default=None, description="The person who acted (null: the agent, the system)"
    )
    object_email: str | None = Field(default=None, description="With a user object: that person's email")
    database_id: uuid.UUID | None = Field(default=None, description="The database concerned, if any")
    database_name: str | None = Field(default=None, description="Its name (kept in the event after a delete)")


@dataclass(frozen=True)
class AuditFilter:
    """Which events to list. `actor` is an email or an actor id (`user:<id>`, `agent:<id>`);
    `object` an object id or a prefix ending in `:` (`recommendation:`)."""

    actor: str | None = None
    action: str | None = None
    object: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    offset: int = 0
