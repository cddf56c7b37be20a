"""The environment variables each deployable reads, taken from the code: the agent's click options
(`envvar=`) and the control plane's settings model (`OPTISCHEMA_` + field name)."""

from __future__ import annotations

import re
from pathlib import Path

import click

from agent.cli.main import cli
from control_plane.settings import Settings

DOCKER = Path(__file__).resolve().parents[3] / "deploy" / "docker"


def agent_variables() -> set[str]:
    options = [*cli.params, *(p for command in cli.commands.values() for p in command.params)]
    names: set[str] = set()
    for option in options:
        if isinstance(option, click.Option) and option.envvar:
            names.update([option.envvar] if isinstance(option.envvar, str) else option.envvar)
    return names


def control_plane_variables() -> set[str]:
    prefix = str(Settings.model_config.get("env_prefix", ""))
    return {f"{prefix}{name}".upper() for name in Settings.model_fields}


def dockerfile_environment(dockerfile: str) -> set[str]:
    """OPTISCHEMA_* names an image's ENV sets."""
    return set(re.findall(r"\b(OPTISCHEMA_[A-Z0-9_]+)=", (DOCKER / dockerfile).read_text()))
