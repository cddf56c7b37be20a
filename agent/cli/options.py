"""Options every subcommand shares; each also reads the environment variable of ../shared/SPEC.md."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from agent.benchmark.settings import BenchmarkSettings
from agent.config import (
    AgentConfig,
    ApplySettings,
    CollectorSettings,
    RunSettings,
    SessionLimits,
    default_spool_dir,
)

F = TypeVar("F", bound=Callable[..., Any])

# Every default below is the settings dataclass' own (one truth); the spool options are in MB and
# hours on the command line, bytes and seconds in RunSettings.
_BYTES_PER_MB = 1024 * 1024
_SECONDS_PER_HOUR = 3600.0

_OPTIONS: list[Callable[[F], F]] = [
    click.option(
        "--database-url", envvar="OPTISCHEMA_DATABASE_URL", required=True, help="The monitored database"
    ),
    click.option("--api-url", envvar="OPTISCHEMA_API_URL", default=None, help="Control plane root URL"),
    click.option("--agent-token", envvar="OPTISCHEMA_AGENT_TOKEN", default=None),
    click.option(
        "--poll-interval",
        envvar="OPTISCHEMA_POLL_INTERVAL_S",
        type=float,
        default=AgentConfig.poll_interval_s,
        show_default=True,
    ),
    click.option(
        "--allow-apply/--no-allow-apply",
        envvar="OPTISCHEMA_ALLOW_APPLY",
        default=AgentConfig.allow_apply,
        show_default=True,
    ),
    click.option("--apply-database-url", envvar="OPTISCHEMA_APPLY_DATABASE_URL", default=None),
    click.option(
        "--sandbox-database-url",
        envvar="OPTISCHEMA_SANDBOX_DATABASE_URL",
        default=None,
        help="A writable copy of the monitored database, where `advise --benchmark` times candidates",
    ),
    click.option("--spool-dir", envvar="OPTISCHEMA_SPOOL_DIR", type=click.Path(path_type=Path), default=None),
    click.option("--control-plane-public-key", envvar="OPTISCHEMA_CONTROL_PLANE_PUBLIC_KEY", default=None),
    click.option(
        "--privacy-mode",
        envvar="OPTISCHEMA_PRIVACY_MODE",
        type=click.Choice(["off", "pseudonyms"]),
        default=AgentConfig.privacy_mode,
        show_default=True,
        help="pseudonyms: send keyed pseudonyms instead of schema, table, column and index names",
    ),
    click.option(
        "--pseudonymize/--no-pseudonymize",
        envvar="OPTISCHEMA_PSEUDONYMIZE",
        default=False,
        help="The same as --privacy-mode pseudonyms (the spelling SPEC.md had first)",
    ),
    click.option(
        "--privacy-key",
        envvar=["OPTISCHEMA_PRIVACY_KEY", "OPTISCHEMA_PSEUDONYM_KEY"],
        default=None,
        help="The pseudonyms' HMAC key (16+ characters); default: generated once in the spool dir",
    ),
    click.option(
        "--max-connections",
        envvar="OPTISCHEMA_MAX_CONNECTIONS",
        type=click.IntRange(1, 10),
        default=SessionLimits.max_connections,
    ),
    click.option(
        "--statement-timeout-ms",
        envvar="OPTISCHEMA_STATEMENT_TIMEOUT_MS",
        type=int,
        default=SessionLimits.statement_timeout_ms,
    ),
    click.option(
        "--connect-timeout",
        envvar="OPTISCHEMA_CONNECT_TIMEOUT_S",
        type=click.FloatRange(min=0.5),
        default=SessionLimits.connect_timeout_s,
        show_default=True,
        help="Seconds to wait for a connection to the monitored database",
    ),
    click.option(
        "--plans-per-cycle",
        envvar="OPTISCHEMA_PLANS_PER_CYCLE",
        type=click.IntRange(0),
        default=CollectorSettings.plans_per_cycle,
    ),
]


# Only `run` reads these; every interval is a knob so that tests run whole cycles in milliseconds.
_RUN_OPTIONS: list[Callable[[F], F]] = [
    click.option("--once", is_flag=True, default=False, help="One full cycle, then exit"),
    click.option(
        "--ca-bundle",
        envvar="OPTISCHEMA_CA_BUNDLE",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="PEM bundle of a private CA that signs the control plane's certificate",
    ),
    click.option("--cycle-deadline", envvar="OPTISCHEMA_CYCLE_DEADLINE_S", type=float, default=None),
    click.option(
        "--advise-every",
        envvar="OPTISCHEMA_ADVISE_EVERY_CYCLES",
        type=click.IntRange(0),
        default=RunSettings.advise_every_cycles,
    ),
    click.option(
        "--advise-time-budget",
        envvar="OPTISCHEMA_ADVISE_TIME_BUDGET_S",
        type=float,
        default=RunSettings.advise_time_budget_s,
    ),
    click.option(
        "--min-stats-age-hours",
        envvar="OPTISCHEMA_MIN_STATS_AGE_H",
        type=click.FloatRange(0),
        default=RunSettings.advise_min_stats_age_h,
        help="Index usage must have been counted this long before 'unused' is said",
    ),
    click.option(
        "--retry-initial",
        envvar="OPTISCHEMA_RETRY_INITIAL_S",
        type=float,
        default=RunSettings.retry_initial_s,
    ),
    click.option("--retry-max", envvar="OPTISCHEMA_RETRY_MAX_S", type=float, default=RunSettings.retry_max_s),
    click.option(
        "--retry-attempts",
        envvar="OPTISCHEMA_RETRY_MAX_ATTEMPTS",
        type=click.IntRange(1),
        default=RunSettings.retry_max_attempts,
    ),
    click.option(
        "--http-timeout", envvar="OPTISCHEMA_HTTP_TIMEOUT_S", type=float, default=RunSettings.http_timeout_s
    ),
    click.option(
        "--spool-max-mb",
        envvar="OPTISCHEMA_SPOOL_MAX_MB",
        type=float,
        default=RunSettings.spool_max_bytes / _BYTES_PER_MB,
    ),
    click.option(
        "--spool-max-age-hours",
        envvar="OPTISCHEMA_SPOOL_MAX_AGE_H",
        type=float,
        default=RunSettings.spool_max_age_s / _SECONDS_PER_HOUR,
    ),
    click.option(
        "--text-resend-after",
        envvar="OPTISCHEMA_TEXT_RESEND_AFTER_S",
        type=click.FloatRange(0),
        default=RunSettings.text_resend_after_s,
        help="Seconds after which a statement's text is sent again; snapshots leave it out meanwhile",
    ),
    click.option(
        "--job-leeway",
        envvar="OPTISCHEMA_JOB_CLOCK_LEEWAY_S",
        type=float,
        default=RunSettings.job_clock_leeway_s,
    ),
    # How apply jobs behave (only with --allow-apply); see ApplySettings for why each exists.
    click.option(
        "--apply-lock-timeout-ms",
        envvar="OPTISCHEMA_APPLY_LOCK_TIMEOUT_MS",
        type=click.IntRange(1),
        default=ApplySettings.lock_timeout_ms,
        show_default=True,
    ),
    click.option(
        "--apply-lock-retries",
        envvar="OPTISCHEMA_APPLY_LOCK_RETRIES",
        type=click.IntRange(0, 100),
        default=ApplySettings.lock_retries,
        show_default=True,
    ),
    click.option(
        "--apply-retry-spacing",
        envvar="OPTISCHEMA_APPLY_RETRY_SPACING_S",
        type=click.FloatRange(0),
        default=ApplySettings.retry_spacing_s,
        show_default=True,
    ),
    click.option(
        "--apply-max-transaction-age",
        envvar="OPTISCHEMA_APPLY_MAX_XACT_AGE_S",
        type=click.FloatRange(0),
        default=ApplySettings.max_transaction_age_s,
        show_default=True,
    ),
    click.option(
        "--job-lease-renew",
        envvar="OPTISCHEMA_JOB_LEASE_RENEW_S",
        type=click.FloatRange(0.01),
        default=ApplySettings.lease_renew_interval_s,
        show_default=True,
    ),
]


# Only `advise` reads these; their defaults are BenchmarkSettings' own.
_BENCHMARK_OPTIONS: list[Callable[[F], F]] = [
    click.option(
        "--benchmark", is_flag=True, default=False, help="Time each recommendation on the sandbox database"
    ),
    click.option(
        "--benchmark-runs",
        envvar="OPTISCHEMA_BENCHMARK_RUNS",
        type=click.IntRange(1),
        default=BenchmarkSettings.runs,
        show_default=True,
    ),
    click.option(
        "--benchmark-warmups",
        envvar="OPTISCHEMA_BENCHMARK_WARMUPS",
        type=click.IntRange(0),
        default=BenchmarkSettings.warmups,
        show_default=True,
    ),
    click.option(
        "--benchmark-statement-budget-ms",
        envvar="OPTISCHEMA_BENCHMARK_STATEMENT_BUDGET_MS",
        type=click.IntRange(1),
        default=BenchmarkSettings.statement_budget_ms,
        show_default=True,
    ),
    click.option(
        "--benchmark-total-budget",
        envvar="OPTISCHEMA_BENCHMARK_TOTAL_BUDGET_S",
        type=click.FloatRange(0),
        default=BenchmarkSettings.total_budget_s,
        show_default=True,
    ),
    click.option(
        "--benchmark-min-gain",
        envvar="OPTISCHEMA_BENCHMARK_MIN_GAIN_PCT",
        type=float,
        default=BenchmarkSettings.min_gain_pct,
        show_default=True,
        help="A benchmarked index must cut the real time of the statements it serves by this many per cent",
    ),
]


def benchmark_options(function: F) -> F:
    for option in reversed(_BENCHMARK_OPTIONS):
        function = option(function)
    return function


def benchmark_tuning_options(function: F) -> F:
    """The benchmark's knobs without `--benchmark` and its bar: `run` times candidates when a job
    asks, and the control plane judges the gain (OPTISCHEMA_BENCHMARK_MIN_GAIN_PCT there)."""
    for option in reversed(_BENCHMARK_OPTIONS[1:-1]):
        function = option(function)
    return function


def build_benchmark_settings(options: dict[str, Any]) -> BenchmarkSettings:
    return BenchmarkSettings(
        runs=options["benchmark_runs"],
        warmups=options["benchmark_warmups"],
        statement_budget_ms=options["benchmark_statement_budget_ms"],
        total_budget_s=options["benchmark_total_budget"],
        min_gain_pct=options.get("benchmark_min_gain", BenchmarkSettings.min_gain_pct),
    )


def run_options(function: F) -> F:
    for option in reversed(_RUN_OPTIONS):
        function = option(function)
    return function


def build_run_settings(options: dict[str, Any]) -> RunSettings:
    return RunSettings(
        cycle_deadline_s=options["cycle_deadline"],
        advise_every_cycles=options["advise_every"],
        advise_time_budget_s=options["advise_time_budget"],
        advise_min_stats_age_h=options["min_stats_age_hours"],
        retry_initial_s=options["retry_initial"],
        retry_max_s=options["retry_max"],
        retry_max_attempts=options["retry_attempts"],
        http_timeout_s=options["http_timeout"],
        ca_bundle=options["ca_bundle"],
        spool_max_bytes=int(options["spool_max_mb"] * _BYTES_PER_MB),
        spool_max_age_s=options["spool_max_age_hours"] * _SECONDS_PER_HOUR,
        job_clock_leeway_s=options["job_leeway"],
        text_resend_after_s=options["text_resend_after"],
    )


def build_apply_settings(options: dict[str, Any]) -> ApplySettings:
    return ApplySettings(
        lock_timeout_ms=options["apply_lock_timeout_ms"],
        lock_retries=options["apply_lock_retries"],
        retry_spacing_s=options["apply_retry_spacing"],
        max_transaction_age_s=options["apply_max_transaction_age"],
        lease_renew_interval_s=options["job_lease_renew"],
    )


def agent_options(function: F) -> F:
    for option in reversed(_OPTIONS):
        function = option(function)
    return function


def build_config(options: dict[str, Any]) -> AgentConfig:
    return AgentConfig(
        database_url=options["database_url"],
        api_url=options["api_url"],
        agent_token=options["agent_token"],
        poll_interval_s=options["poll_interval"],
        allow_apply=options["allow_apply"],
        apply_database_url=options["apply_database_url"],
        sandbox_database_url=options["sandbox_database_url"],
        spool_dir=options["spool_dir"] or default_spool_dir(),
        control_plane_public_key=options["control_plane_public_key"],
        privacy_mode="pseudonyms" if options["pseudonymize"] else options["privacy_mode"],
        privacy_key=options["privacy_key"],
        limits=SessionLimits(
            max_connections=options["max_connections"],
            statement_timeout_ms=options["statement_timeout_ms"],
            connect_timeout_s=options["connect_timeout"],
        ),
        collector=CollectorSettings(plans_per_cycle=options["plans_per_cycle"]),
        run=build_run_settings(options) if "once" in options else RunSettings(),
        apply=build_apply_settings(options) if "once" in options else ApplySettings(),
    )
