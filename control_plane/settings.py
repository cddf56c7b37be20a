"""The control plane's one settings class, read from OPTISCHEMA_* environment variables.

Outside development it refuses to start with a missing, short or well-known secret.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.log_setup import DEFAULT_LOG_LEVEL, LogLevel

KNOWN_WEAK_SECRETS = frozenset({"", "secret", "changeme", "change-me", "development", "dev", "optischema"})
MIN_SECRET_LENGTH = 32
DEVELOPMENT_SECRET = "development-only-secret-never-use-in-production!!"  # noqa: S105  # only with OPTISCHEMA_ENV=development


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPTISCHEMA_", extra="ignore")

    env: Literal["production", "development"] = "production"
    metadata_url: str = Field(description="Plain postgresql:// URL of the metadata database")
    host: str = "127.0.0.1"
    port: int = 8000
    secret_key: SecretStr = SecretStr("")
    workers: Literal["on", "off", "only"] = "on"
    log_level: LogLevel = DEFAULT_LOG_LEVEL  # see shared.log_setup: secret-bearing libraries stay quiet
    rate_limit_storage: str = "memory://"
    # Shared storage (Redis) is given this long per call; after a failure limits count per process
    # and Redis is tried again this much later (see control_plane.edges.rate_limit_storage).
    rate_limit_storage_timeout_s: float = Field(default=0.5, gt=0)
    rate_limit_storage_retry_s: float = Field(default=5.0, ge=0)
    # Tenant-set outbound URLs (LLM base URLs, webhooks) may reach private and loopback addresses
    # only when the operator says so: see control_plane.edges.outbound_url.
    allow_private_outbound: bool = False
    cors_origins: list[str] = Field(default_factory=list)
    trusted_proxies: list[str] = Field(default_factory=list)
    # The URL agents use to reach this control plane, as in the `docker run` line the pages show
    # (control_plane.databases.agent_command). None: the URL the browser's request came to.
    public_url: str | None = Field(default=None, description="URL agents reach the control plane at")

    jwt_issuer: str = "optischema"
    jwt_audience: str = "optischema-api"
    access_token_ttl_s: int = 900
    refresh_token_ttl_s: int = 30 * 24 * 3600
    clock_skew_leeway_s: int = 5

    max_body_bytes: int = 16 * 1024 * 1024  # after decompression: a gzip bomb is cut off here too
    # See control_plane.ingestion.snapshot_checks.
    snapshot_check_processes: int = Field(
        default=1,
        ge=0,
        le=16,
        description="Processes per API process that check snapshot bodies, off its GIL; 0: in a thread",
    )
    # How long a worker waits, once the snapshot inbox is empty, before looking again: an accepted
    # snapshot is stored within about this much (plus its own ~0.1 s) when a worker is free.
    snapshot_inbox_interval_s: float = Field(default=0.25, gt=0)
    # A database's schema statistics are written when their shape changes, otherwise at most this
    # often by the snapshots' clock (control_plane.ingestion.schema_writes); 0 writes every one.
    schema_stats_interval_s: float = Field(
        default=300.0,
        ge=0,
        description="Schema statistics of an unchanged shape are written at most this often; 0: every snapshot's",
    )
    statement_stats_retention_days: int = 400
    # The running totals (control_plane.queries.running_totals) are brought up to yesterday this
    # often; a day is summed once it has been over for the settle time, and snapshots stored less
    # than the settle time before a computation are not trusted to be in it (a storing transaction
    # can still be open: ~0.1 s each, minutes only for a backlog). Until then ranges read rollups.
    running_totals_interval_s: float = Field(default=600.0, gt=0)
    running_totals_settle_s: float = Field(default=600.0, ge=0)
    # The hours that are over are folded from the hourly into the daily rollups this often
    # (control_plane.ingestion.daily_folds); until then readers add up those hours' rows.
    daily_fold_interval_s: float = Field(default=300.0, gt=0)
    db_pool_size: int = 10  # per server, shared out among its web workers
    # While the metadata database is away every request answers 503 with Retry-After within these
    # bounds, never a 500 or a hang (a `connect_timeout` in OPTISCHEMA_METADATA_URL wins).
    metadata_connect_timeout_s: float = Field(default=5.0, gt=0)
    db_pool_timeout_s: float = Field(default=10.0, gt=0, description="Wait for a free pooled connection")
    # See control_plane.db.engine.CheckoutPing: what a busy server saves, and what it gives up.
    db_ping_idle_s: float = Field(
        default=1.0, ge=0, description="A pooled connection idle this long is pinged before use (0: always)"
    )
    unavailable_retry_after_s: int = Field(default=5, ge=1, description="Retry-After of a 503")
    # False behind a PgBouncer in transaction mode older than 1.21 (Debian bookworm's is 1.18): no
    # named prepared statements (see control_plane.db.engine.engine_from_url).
    metadata_statement_cache: bool = True
    # Web worker processes (snapshots are stored by the workers, see OPTISCHEMA_WORKERS). None: one per two
    # cores (at least one, at most four) in production, one in development.
    web_concurrency: int | None = Field(default=None, ge=1, le=64)
    login_rate_limit: str = "10/minute"
    expensive_rate_limit: str = "30/minute"

    # Agent jobs. A signed job is valid for job_ttl_s at most (never past the job's own expiry), and
    # a lease lasts as long, so a job is never valid in two agents' hands at once.
    job_signing_key: SecretStr | None = Field(
        default=None, description="base64 raw 32-byte Ed25519 private key; generated on first start if unset"
    )
    job_lease_s: int = Field(default=300, ge=10)
    job_ttl_s: int = Field(default=300, ge=10)
    job_expiry_s: int = Field(
        default=24 * 3600, ge=60, description="How long a queued job waits for its agent"
    )
    job_max_attempts: int = Field(default=3, ge=1)
    job_lease_batch: int = Field(default=10, ge=1, le=100)
    # Rotation: a `next` key is published this long before it becomes active on its own, and a
    # retired key stays published this long so jobs signed just before the switch still verify.
    job_signing_rotation_grace_s: int = Field(default=24 * 3600, ge=0)
    job_signing_retired_publish_s: int = Field(default=7 * 24 * 3600, ge=0)

    # Analysis (issue 6): rules first, LLMs optional, every index or rewrite idea proven by the agent.
    # The worker wakes every analysis_interval_s, leases runs for analysis_lease_s, and queues an
    # automatic run for statements whose plan cost or share of load changed materially, at most
    # once per analysis_debounce_s and analysis_auto_runs_per_hour times an hour per database; it
    # reads a database's workload to look for such changes at most once per analysis_check_interval_s.
    analysis_interval_s: float = Field(default=30.0, gt=0)
    analysis_lease_s: int = Field(default=600, ge=1)
    analysis_max_attempts: int = Field(default=3, ge=1)
    analysis_work_batch: int = Field(default=20, ge=1)
    analysis_debounce_s: int = Field(default=900, ge=0)
    analysis_check_interval_s: float = Field(
        default=300.0,
        ge=0,
        description="A database's new snapshots are checked for changes at most this often",
    )
    analysis_auto_runs_per_hour: int = Field(default=4, ge=0)
    analysis_statements_per_run: int = Field(default=10, ge=1, le=100)
    analysis_window_s: int = Field(default=24 * 3600, ge=60, description="Workload window a run reads")
    analysis_plan_cost_change_pct: float = Field(default=20.0, ge=0)
    analysis_load_change_points: float = Field(default=5.0, ge=0)
    analysis_min_load_pct: float = Field(default=1.0, ge=0)
    analysis_min_improvement_pct: float = Field(default=20.0, ge=0, le=100)
    # Issue 16: a benchmarked index must cut the real time of the statements it serves (weighted by
    # their calls per day) by at least this many per cent, or it is demoted.
    benchmark_min_gain_pct: float = Field(
        default=10.0,
        ge=0,
        le=100,
        description="A benchmarked index must cut the real time of what it serves by this many per cent, else demoted",
    )
    # Issue 16: each new verified create_index of a database whose agent has a sandbox is benchmarked
    # without anyone asking, one at a time per database (timings on a shared sandbox would disturb
    # each other), looked for this often; off, benchmarks run only when someone asks.
    benchmark_automatic: bool = Field(
        default=True,
        description="Benchmark each new verified index on the agent's sandbox before anyone asks, one at a time per database",
    )
    benchmark_automatic_interval_s: float = Field(default=60.0, gt=0)
    analysis_large_table_rows: int = Field(default=10_000, ge=1)
    analysis_selective_fraction: float = Field(default=0.1, gt=0, le=1)
    analysis_estimate_error_factor: float = Field(default=10.0, gt=1)
    llm_provider: Literal["none", "openai", "gemini", "anthropic"] = "none"
    llm_base_url: str = ""
    llm_api_key: SecretStr = SecretStr("")
    llm_model: str = ""
    llm_timeout_s: float = Field(default=30.0, gt=0)
    llm_max_retries: int = Field(default=2, ge=0)
    llm_monthly_token_budget: int = Field(
        default=2_000_000, ge=0, description="Per tenant, unless overridden"
    )

    # Changes and notifications (approve and apply, measured proof, webhooks). An approved change
    # waits this long for its agent and its maintenance window before its job expires.
    change_job_expiry_s: int = Field(default=7 * 24 * 3600, ge=60)
    squawk_timeout_s: float = Field(default=10.0, gt=0)
    # Rules that contradict how the agent applies: it checks the catalog instead of trusting
    # IF NOT EXISTS, and sets its own lock_timeout and (deliberately) no statement_timeout.
    squawk_excluded_rules: list[str] = Field(
        default_factory=lambda: ["prefer-robust-stmts", "require-lock-timeout", "require-statement-timeout"]
    )
    measure_interval_s: float = Field(default=300.0, gt=0)
    measure_window_s: int = Field(default=3600, ge=1, description="Before and after apply, each")
    measure_min_calls: int = Field(default=50, ge=1, description="Per statement, in each window")
    measure_improved_pct: float = Field(default=10.0, ge=0)
    measure_regressed_pct: float = Field(default=10.0, ge=0, description="Slower by this much: regressed")
    notify_min_improvement_pct: float = Field(
        default=50.0, description="A new webhook's default bar for announcing a new recommendation"
    )
    webhook_delivery_interval_s: float = Field(default=10.0, gt=0)
    # How often agents are expected to report (the agent's OPTISCHEMA_POLL_INTERVAL_S default, 30):
    # the overview's online / late / offline thresholds are multiples of it (control_plane.overview).
    agent_poll_interval_s: float = Field(default=30.0, gt=0)
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    webhook_max_attempts: int = Field(default=8, ge=1)
    webhook_backoff_s: float = Field(default=30.0, ge=0, description="Doubled after every failed attempt")
    webhook_backoff_max_s: float = Field(default=3600.0, ge=0)
    webhook_batch: int = Field(default=50, ge=1)

    # Live updates (control_plane.live): a page trades its bearer token for a single-use ticket
    # valid live_ticket_ttl_s, then its stream polls "what changed since" every live_poll_s, looking
    # live_lookback_s back for changes committed late, and ends after live_max_stream_s.
    live_ticket_ttl_s: float = Field(default=30.0, gt=0, description="How long a live ticket can be redeemed")
    live_poll_s: float = Field(default=2.0, gt=0, description="How often an open stream asks what changed")
    live_lookback_s: float = Field(default=30.0, ge=0, description="Longest writing transaction caught")
    live_keepalive_s: float = Field(default=15.0, gt=0, description="Comment line when nothing happened")
    live_max_stream_s: float = Field(default=900.0, gt=0, description="Then the stream ends with `reconnect`")
    live_retry_ms: int = Field(default=3000, ge=0, description="SSE `retry:`: the browser's reconnect wait")

    @property
    def web_workers(self) -> int:
        if self.web_concurrency is not None:
            return self.web_concurrency
        # Half the cores: the other half go to the workers storing snapshots and, often, PostgreSQL on the same
        # host. On two cores, one worker served reads faster while ingesting than two did.
        return 1 if self.env == "development" else max(1, min(4, (os.cpu_count() or 1) // 2))

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        secret = self.secret_key.get_secret_value()
        if self.env == "development" and not secret:
            self.secret_key = SecretStr(DEVELOPMENT_SECRET)
            return self
        if self.env != "development" and (
            secret.lower() in KNOWN_WEAK_SECRETS or len(secret) < MIN_SECRET_LENGTH
        ):
            raise ValueError(
                f"OPTISCHEMA_SECRET_KEY must be set to a random value of at least {MIN_SECRET_LENGTH} characters "
                "(for example: python -c 'import secrets; print(secrets.token_urlsafe(48))'); "
                "set OPTISCHEMA_ENV=development to run with a development secret"
            )
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()  # metadata_url comes from the environment
