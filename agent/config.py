"""The agent's configuration: every option of the CLI, every knob the tests need to turn fast."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
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
class RunSettings:
    """The daemon's rhythm. Every interval is a knob so that tests run whole cycles in milliseconds."""

    # A cycle that overruns its deadline gives up on the remaining network steps (its snapshot
    # stays spooled) rather than pushing the next collection late.
    cycle_deadline_s: float | None = None  # default: the poll interval
    # The local advisor plans every statement under HypoPG: worth it on the first cycle, then
    # only every few cycles, and never longer than its time budget.
    advise_every_cycles: int = 10
    advise_time_budget_s: float = 20.0
    advise_min_improvement_pct: float = 20.0
    # Index usage must have been counted this long before the advisor calls an index unused: a
    # weekly job may not have run yet. `advise` and `run` both read it (OPTISCHEMA_MIN_STATS_AGE_H).
    advise_min_stats_age_h: float = 7 * 24.0
    retry_initial_s: float = 2.0
    retry_max_s: float = 64.0
    retry_max_attempts: int = 6
    http_timeout_s: float = 30.0
    ca_bundle: Path | None = None
    spool_max_bytes: int = 500 * 1024 * 1024
    spool_max_age_s: float = 7 * 24 * 3600.0
    spool_max_disk_fraction: float = 0.8
    job_clock_leeway_s: float = 30.0
    max_jobs_per_cycle: int = 10
    # A statement's text goes again this long after the control plane acknowledged it; in between
    # snapshots leave it out (agent/ship/statement_texts.py). OPTISCHEMA_TEXT_RESEND_AFTER_S.
    text_resend_after_s: float = 3600.0


@dataclass(frozen=True)
class ApplySettings:
    """How the agent makes an approved change (only with --allow-apply). Tests turn them down to ms."""

    # Every lock the build waits for (the table's, then older transactions') gives up after this;
    # a build that gives up is retried a few times, spaced out, before the job fails.
    lock_timeout_ms: int = 5_000
    lock_retries: int = 3
    retry_spacing_s: float = 10.0
    # A concurrent build waits for every transaction older than itself: one open this long means the
    # build would sit there, so the job fails up front and names it.
    max_transaction_age_s: float = 300.0
    # Catalog reads around the build get a statement timeout; the build itself gets none.
    catalog_statement_timeout_ms: int = 30_000
    connect_timeout_s: float = 10.0
    # A build may take hours: its job lease is renewed this often while it runs.
    lease_renew_interval_s: float = 60.0


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
    run: RunSettings = field(default_factory=RunSettings)
    apply: ApplySettings = field(default_factory=ApplySettings)
    # A writable copy of the monitored database where `advise --benchmark` builds candidate indexes
    # and times the statements they serve; None: benchmarking is off.
    sandbox_database_url: str | None = None
    # "pseudonyms": every schema, table, column and index name the agent sends is a keyed pseudonym
    # (agent.privacy). The key is privacy_key, or one generated once in the spool (state) dir.
    privacy_mode: Literal["off", "pseudonyms"] = "off"
    privacy_key: str | None = None

    @property
    def cycle_deadline_s(self) -> float:
        return self.run.cycle_deadline_s or self.poll_interval_s

    @property
    def effective_apply_database_url(self) -> str:
        return self.apply_database_url or self.database_url


def collector_state_path(config: AgentConfig) -> Path:
    """The deltas' baseline lives in the spool dir: a restarted agent (or container) loses no interval."""
    return config.spool_dir / "state" / "collector.json"
