"""docs/configuration.md is what the code says, and the agent's CLI defaults are its settings' defaults.

The reference is regenerated in memory and compared with the committed page. The CLI side is
checked two ways: no option in agent/cli/ spells a number as its default (each must read
its settings dataclass), and the configuration every command builds from untouched options is
exactly the settings dataclasses' defaults.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import click
import pytest

from agent.benchmark.settings import BenchmarkSettings
from agent.cli.main import cli
from agent.cli.options import build_benchmark_settings, build_config
from agent.config import AgentConfig
from deploy.docs_reference import GENERATOR, REFERENCE_PATH, configuration_reference

CLI_SOURCES = sorted((Path(__file__).resolve().parents[3] / "agent" / "cli").glob("*.py"))
DATABASE_URL = "postgresql://monitor@db.example/app"


def test_committed_reference_matches_the_code() -> None:
    committed = REFERENCE_PATH.read_text() if REFERENCE_PATH.exists() else ""
    assert committed == configuration_reference(), (
        f"docs/configuration.md is out of date with the settings in the code: run `{GENERATOR}` "
        "and commit the result"
    )


def _literal_number_defaults(source: Path) -> list[str]:
    tree = ast.parse(source.read_text())
    found: list[str] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr != "option" or not node.args:
            continue
        for keyword in node.keywords:
            value = keyword.value
            if (
                keyword.arg == "default"
                and isinstance(value, ast.Constant)
                and isinstance(value.value, int | float)
                and not isinstance(value.value, bool)
            ):
                found.append(
                    f"{source.name} line {node.lineno}: {ast.literal_eval(node.args[0])} default={value.value}"
                )
    return found


def test_no_option_spells_its_default_as_a_number() -> None:
    found = [line for source in CLI_SOURCES for line in _literal_number_defaults(source)]
    assert found == [], "read the default from its settings dataclass instead"


def _default_options(name: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """The options a command gets when only the required database URL is given."""
    for variable in [v for v in os.environ if v.startswith("OPTISCHEMA_")]:
        monkeypatch.delenv(variable)
    command = cli.commands[name]
    assert isinstance(command, click.Command)
    with command.make_context(name, ["--database-url", DATABASE_URL]) as context:
        return dict(context.params)


@pytest.mark.parametrize("name", ["check", "snapshot", "advise", "run"])
def test_untouched_options_build_the_default_configuration(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = _default_options(name, monkeypatch)
    # Only `run` has the run and apply options: the others get RunSettings() and ApplySettings().
    assert build_config(options) == AgentConfig(database_url=DATABASE_URL)


def test_untouched_benchmark_options_build_the_default_benchmark(monkeypatch: pytest.MonkeyPatch) -> None:
    assert build_benchmark_settings(_default_options("advise", monkeypatch)) == BenchmarkSettings()
