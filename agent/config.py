"""The agent's configuration: every option of the CLI, every knob the tests need to turn fast."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


def default_spool_dir() -> Path:
    state_home = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state_home) / "optischema-agent"


def redact_url(url: str) -> str:
    """The URL with its password replaced, for logs and error messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable database URL>"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


@dataclass(frozen=True)
class SessionLimits:
    """How politely the agent behaves on the monitored server."""

    max_connections: int = 2
    connect_timeout_s: float = 10.0
    statement_timeout_ms: int = 10_000
    lock_timeout_ms: int = 1_000
    idle_in_transaction_timeout_ms: int = 30_000


@dataclass(frozen=True)
class CollectorSettings:
    # Generic plans are the costliest part of a cycle: only the top statements get one, and a
    # plan is reused for a few cycles before it is refreshed.
    plans_per_cycle: int = 10
    plan_refresh_cycles: int = 10
    plan_time_budget_s: float = 5.0


@dataclass(frozen=True)
class AgentConfig:
    database_url: str
    api_url: str | None = None
    agent_token: str | None = None
    poll_interval_s: float = 30.0
    allow_apply: bool = False
    apply_database_url: str | None = None
    spool_dir: Path = field(default_factory=default_spool_dir)
    control_plane_public_key: str | None = None
    limits: SessionLimits = field(default_factory=SessionLimits)
    collector: CollectorSettings = field(default_factory=CollectorSettings)

    @property
    def effective_apply_database_url(self) -> str:
        return self.apply_database_url or self.database_url
