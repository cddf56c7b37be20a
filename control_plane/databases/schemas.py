from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class DatabaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)


class DatabaseCreated(BaseModel):
    id: uuid.UUID
    name: str
    agent_token: str = Field(description="Shown only here: store it in the agent's configuration")
    agent_command: str = Field(description="The `docker run` line that starts an agent with this token")


class DatabaseOut(BaseModel):
    id: uuid.UUID
    name: str
    agent_last_seen_at: datetime | None
    agent_version: str | None
    server_version: str | None
    agent_spooled_snapshots: int = 0
    agent_dropped_snapshots: int = 0
    privacy_mode: Literal["off", "pseudonyms"] = Field(
        default="off",
        description="'pseudonyms': the agent sends keyed pseudonyms, never names; the dashboard shows "
        "only pseudonyms, since the key never leaves the agent",
    )
    agent_command_template: str = Field(
        description="The `docker run` line with `<token>` where the agent token goes"
    )


class AgentTokenOut(BaseModel):
    agent_token: str
    agent_command: str = Field(description="The `docker run` line that starts an agent with this token")
