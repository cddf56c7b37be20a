"""`run` reads the apply knobs from flags or the environment; apply stays off unless asked for."""

from __future__ import annotations

from typing import Any

import click
from click.testing import CliRunner

from agent.cli.options import agent_options, build_config, run_options
from agent.config import AgentConfig, ApplySettings


def parsed_config(args: list[str], env: dict[str, str]) -> AgentConfig:
    seen: list[AgentConfig] = []

    @click.command()
    @agent_options
    @run_options
    def run(once: bool, **options: Any) -> None:
        seen.append(build_config({**options, "once": once}))

    result = CliRunner().invoke(run, ["--database-url", "postgresql://monitor@db/app", *args], env=env)
    assert result.exit_code == 0, result.output
    return seen[0]


def test_apply_is_off_and_uses_the_monitoring_url_by_default() -> None:
    config = parsed_config([], {})

    assert config.allow_apply is False
    assert config.effective_apply_database_url == "postgresql://monitor@db/app"
    assert config.apply == ApplySettings()


def test_apply_knobs_come_from_the_environment() -> None:
    config = parsed_config(
        [],
        {
            "OPTISCHEMA_ALLOW_APPLY": "true",
            "OPTISCHEMA_APPLY_DATABASE_URL": "postgresql://owner@db/app",
            "OPTISCHEMA_APPLY_LOCK_TIMEOUT_MS": "250",
            "OPTISCHEMA_APPLY_LOCK_RETRIES": "5",
            "OPTISCHEMA_APPLY_RETRY_SPACING_S": "1.5",
            "OPTISCHEMA_APPLY_MAX_XACT_AGE_S": "60",
            "OPTISCHEMA_JOB_LEASE_RENEW_S": "20",
        },
    )

    assert config.allow_apply is True
    assert config.effective_apply_database_url == "postgresql://owner@db/app"
    assert (
        config.apply.lock_timeout_ms,
        config.apply.lock_retries,
        config.apply.retry_spacing_s,
        config.apply.max_transaction_age_s,
        config.apply.lease_renew_interval_s,
    ) == (250, 5, 1.5, 60.0, 20.0)


def test_a_flag_wins_over_the_environment() -> None:
    config = parsed_config(["--apply-lock-retries", "1"], {"OPTISCHEMA_APPLY_LOCK_RETRIES": "7"})

    assert config.apply.lock_retries == 1
