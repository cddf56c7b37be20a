"""Options every subcommand shares; each also reads the environment variable of ../shared/SPEC.md."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from agent.config import AgentConfig, CollectorSettings, SessionLimits, default_spool_dir

F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS: list[Callable[[F], F]] = [
    click.option(
        "--database-url", envvar="OPTISCHEMA_DATABASE_URL", required=True, help="The monitored database"
    ),
    click.option("--api-url", envvar="OPTISCHEMA_API_URL", default=None, help="Control plane root URL"),
    click.option("--agent-token", envvar="OPTISCHEMA_AGENT_TOKEN", default=None),
    click.option(
        "--poll-interval", envvar="OPTISCHEMA_POLL_INTERVAL_S", type=float, default=30.0, show_default=True
    ),
    click.option(
        "--allow-apply/--no-allow-apply", envvar="OPTISCHEMA_ALLOW_APPLY", default=False, show_default=True
    ),
    click.option("--apply-database-url", envvar="OPTISCHEMA_APPLY_DATABASE_URL", default=None),
    click.option("--spool-dir", envvar="OPTISCHEMA_SPOOL_DIR", type=click.Path(path_type=Path), default=None),
    click.option("--control-plane-public-key", envvar="OPTISCHEMA_CONTROL_PLANE_PUBLIC_KEY", default=None),
    click.option(
        "--max-connections", envvar="OPTISCHEMA_MAX_CONNECTIONS", type=click.IntRange(1, 10), default=2
    ),
    click.option(
        "--statement-timeout-ms", envvar="OPTISCHEMA_STATEMENT_TIMEOUT_MS", type=int, default=10_000
    ),
    click.option(
        "--plans-per-cycle", envvar="OPTISCHEMA_PLANS_PER_CYCLE", type=click.IntRange(0), default=10
    ),
]


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
        spool_dir=options["spool_dir"] or default_spool_dir(),
        control_plane_public_key=options["control_plane_public_key"],
        limits=SessionLimits(
            max_connections=options["max_connections"], statement_timeout_ms=options["statement_timeout_ms"]
        ),
        collector=CollectorSettings(plans_per_cycle=options["plans_per_cycle"]),
    )
