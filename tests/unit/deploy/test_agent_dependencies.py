"""The agent image installs `optischema` without extras: agent/ and shared/ may import only the
standard library, themselves and the distributions of pyproject.toml's base dependency list."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
AGENT_SIDE = ("agent", "shared")


def distribution_name(requirement: str) -> str:
    """`psycopg[binary]>=3.2,<4` -> `psycopg`, normalized the way importlib.metadata names them."""
    name = re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_top_level_modules(package: str) -> dict[str, Path]:
    """Every absolute import's first name in a package, with one file that imports it."""
    found: dict[str, Path] = {}
    for path in sorted((REPO / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], path.relative_to(REPO))
    return found


def test_the_base_dependencies_hold_nothing_of_the_control_plane() -> None:
    base = {distribution_name(requirement) for requirement in PROJECT["dependencies"]}
    control_plane = {distribution_name(r) for r in PROJECT["optional-dependencies"]["control-plane"]}

    assert not base & control_plane
    assert {"fastapi", "sqlalchemy", "alembic", "uvicorn", "asyncpg"} <= control_plane
    assert "optischema[control-plane]" in PROJECT["optional-dependencies"]["dev"]


def test_agent_and_shared_import_only_the_standard_library_and_the_base_dependencies() -> None:
    base = {distribution_name(requirement) for requirement in PROJECT["dependencies"]}
    distributions_of = packages_distributions()
    strays: list[str] = []
    for package in AGENT_SIDE:
        for module, path in imported_top_level_modules(package).items():
            if module in sys.stdlib_module_names or module in AGENT_SIDE:
                continue
            owners = {distribution_name(owner) for owner in distributions_of.get(module, [])}
            if not owners & base:
                strays.append(f"{path} imports {module} ({', '.join(sorted(owners)) or 'not installed'})")

    assert strays == [], "agent/ and shared/ must run on the base dependencies alone:\n" + "\n".join(strays)
