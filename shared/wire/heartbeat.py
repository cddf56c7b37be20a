"""What an agent says when it checks in, besides its snapshots."""

from __future__ import annotations

from pydantic import Field

from shared.wire.base import NonNegativeInt, NonNegativeInt32, WireModel
from shared.wire.snapshot import PrivacyMode


class Heartbeat(WireModel):
    agent_version: str = Field(max_length=64)
    server_version: str | None = Field(default=None, max_length=64)
    spooled_snapshots: NonNegativeInt32 = 0
    dropped_snapshots: NonNegativeInt = Field(
        default=0, description="Evicted from the spool since the last heartbeat"
    )
    # Added with issue 16; optional so that older agents' heartbeats still parse (absent: unknown, no).
    sandbox: bool | None = Field(
        default=None, description="A sandbox database is configured: the agent runs benchmark_index jobs"
    )
    # Left out of the JSON when unset, so that control planes that predate it accept the heartbeat.
    privacy: PrivacyMode | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="'pseudonyms': the agent sends keyed pseudonyms instead of schema object names",
    )
