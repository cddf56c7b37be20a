"""Every command a reader is told to type, in README.md and docs/, is run by a test or by the demo.

The shell blocks of those pages are read; each command (less `export` lines, comments and
continuations) must be listed below with the test that runs it, and that test must really contain
it. A new command in the docs without a test fails here, naming the line.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"```(\w*)\n(.*?)```", re.DOTALL)

# command (its first words) -> (the test or module that runs it, a string that test contains)
RUN_BY: dict[str, tuple[str, str]] = {
    "make demo": ("tests/e2e/test_demo.py", '"deploy.demo"'),
    "make test": (".ci/run", "make test"),
    "optischema-agent check": ("tests/e2e/test_docs_agent_setup.py", '"check"'),
    "optischema-agent snapshot": ("tests/e2e/test_docs_agent_setup.py", '"snapshot"'),
    "optischema-agent advise": ("tests/e2e/test_docs_agent_setup.py", '"advise"'),
    "optischema-agent run": ("tests/e2e/conftest.py", '"run", "--once"'),
    "optischema-admin signing-keys": (
        "tests/integration/control_plane/api/test_signing_keys.py",
        '"signing-keys"',
    ),
    "optischema-admin rotate-signing-key": (
        "tests/integration/control_plane/api/test_signing_keys.py",
        '"rotate-signing-key"',
    ),
    "optischema-admin create-tenant": (
        "tests/integration/control_plane/test_admin_cli.py",
        '"create-tenant"',
    ),
    # No Docker engine runs here: Compose is validated statically against the images the tests build.
    "docker compose": ("tests/unit/deploy/test_docker_packaging.py", "docker-compose.yml"),
}


def documented_commands() -> list[tuple[str, str]]:
    """(page, command line) for every command line of every shell block."""
    found: list[tuple[str, str]] = []
    for page in PAGES:
        for language, body in FENCE.findall(page.read_text()):
            if language not in ("sh", "bash", "shell"):
                continue
            previous_continues = False
            for raw in body.splitlines():
                line = raw.split(" #", 1)[0].strip()
                continues, previous_continues = previous_continues, line.endswith("\\")
                if not line or line.startswith("#") or continues or line.startswith("export "):
                    continue
                found.append((page.name, line))
    return found


def command_key(line: str) -> str:
    words = [word for word in line.split() if "=" not in word or word.startswith("-")]
    if words[:2] == ["docker", "compose"]:
        return "docker compose"
    if words and words[0] == "optischema-admin" and "--entrypoint" not in words:
        return " ".join(words[:2])
    if "--entrypoint" in words:  # docker compose run --entrypoint optischema-admin ...
        return "docker compose"
    return " ".join(words[:2])


@pytest.mark.parametrize(("page", "line"), documented_commands())
def test_each_documented_command_is_run_by_a_test(page: str, line: str) -> None:
    key = command_key(line)
    assert key in RUN_BY, f"{page}: `{line}` is not run by any test (add it to RUN_BY with its test)"


@pytest.mark.parametrize(("key", "runner"), RUN_BY.items())
def test_each_listed_test_really_runs_its_command(key: str, runner: tuple[str, str]) -> None:
    path, needle = runner
    assert needle in (REPO / path).read_text(), f"{path} does not contain {needle} for `{key}`"
