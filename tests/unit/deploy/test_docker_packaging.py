"""The Docker packaging, checked without a Docker daemon: the compose file, the Dockerfiles and the
build context name only console scripts, files and settings that exist."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.ship.url_policy import api_base_url

REPO = Path(__file__).resolve().parents[3]
DOCKER = REPO / "deploy" / "docker"
CONSOLE_SCRIPTS = set(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"])
PYTHON_IMAGES = ["agent.Dockerfile", "control-plane.Dockerfile"]


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return loaded


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (DOCKER / dockerfile).read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(" ", 1)[0].upper(), line.split(" ", 1)[1]) for line in lines]


def final_stage(dockerfile: str) -> list[tuple[str, str]]:
    steps = instructions(dockerfile)
    last_from = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    return steps[last_from:]


def test_compose_runs_both_databases_the_migration_the_control_plane_and_the_agent() -> None:
    assert set(services()) == {"metadata-db", "monitored-db", "migrate", "control-plane", "agent"}


def test_every_build_names_an_existing_dockerfile_in_the_repository_context() -> None:
    for name, service in services().items():
        if "build" in service:
            assert service["build"]["context"] == ".", name
            assert (REPO / service["build"]["dockerfile"]).is_file(), name


def test_every_entrypoint_is_a_console_script_of_the_package() -> None:
    entrypoints = {name: s["entrypoint"][0] for name, s in services().items() if "entrypoint" in s}

    assert entrypoints == {
        "migrate": "optischema-admin",
        "control-plane": "optischema-control-plane",
        "agent": "optischema-agent",
    }
    assert set(entrypoints.values()) <= CONSOLE_SCRIPTS
    assert services()["migrate"]["command"] == ["migrate"]
    assert services()["agent"]["command"] == ["run"]


def build_argument_default(dockerfile: str, name: str) -> str:
    (declared,) = [
        argument for op, argument in instructions(dockerfile) if op == "ARG" and argument.startswith(name)
    ]
    return declared.split("=", 1)[1]


@pytest.mark.parametrize(
    ("dockerfile", "script", "command", "extras"),
    [
        ("agent.Dockerfile", "optischema-agent", '["run"]', ""),
        ("control-plane.Dockerfile", "optischema-control-plane", None, " control-plane"),
    ],
)
def test_python_images_run_their_console_script_as_a_non_root_user(
    dockerfile: str, script: str, command: str | None, extras: str
) -> None:
    steps = final_stage(dockerfile)

    # Both stages build FROM the BASE_IMAGE argument, by default the public python:3.11-slim.
    assert build_argument_default(dockerfile, "BASE_IMAGE") == "python:3.11-slim"
    assert [argument for op, argument in instructions(dockerfile) if op == "FROM"] == [
        "${BASE_IMAGE} AS build",
        "${BASE_IMAGE}",
    ]
    assert dict(steps)["ENTRYPOINT"] == f'["{script}"]' and script in CONSOLE_SCRIPTS
    assert dict(steps).get("CMD") == command
    users = [argument for op, argument in steps if op == "USER"]
    assert users and users[-1] not in {"root", "0"}
    # The virtualenv is built in the first stage and copied: no pip run in the final one. The
    # dependencies (with the image's extras) first, then the package alone.
    runs = [argument for op, argument in instructions(dockerfile) if op == "RUN"]
    assert any(run.endswith(f"install_dependencies.py{extras}") for run in runs)
    assert any(
        "pip install --no-cache-dir --no-compile --no-deps --no-build-isolation ." in run for run in runs
    )
    assert not any(op == "RUN" and "pip install" in argument for op, argument in steps)
    assert ("COPY", "--from=build /opt/optischema /opt/optischema") in steps
    assert "HEALTHCHECK" in dict(steps)


def test_the_agent_image_builds_from_agent_and_shared_alone() -> None:
    copied = [argument.split()[0] for op, argument in instructions("agent.Dockerfile") if op == "COPY"]

    assert "control_plane" not in copied and "migrations" not in copied
    assert {"agent", "shared"} <= set(copied)


def test_the_agent_image_keeps_its_spool_on_a_volume() -> None:
    steps = dict(final_stage("agent.Dockerfile"))

    assert "OPTISCHEMA_SPOOL_DIR=/var/lib/optischema-agent/spool" in steps["ENV"]
    assert steps["VOLUME"] == '["/var/lib/optischema-agent"]'
    assert "agent-spool:/var/lib/optischema-agent" in services()["agent"]["volumes"]
    # Only the spool volume is written (tests/e2e/test_images.py checks the running image).
    assert services()["agent"]["read_only"] is True


@pytest.mark.parametrize("dockerfile", sorted(p.name for p in DOCKER.glob("*.Dockerfile")))
def test_every_copied_file_exists_and_survives_the_dockerignore(dockerfile: str) -> None:
    ignored = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for op, argument in instructions(dockerfile):
        if op != "COPY" or argument.startswith("--from"):
            continue
        *sources, _ = argument.split()
        for source in sources:
            assert (REPO / source).exists(), source
            assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source


def test_the_monitored_database_preloads_pg_stat_statements_and_installs_hypopg() -> None:
    steps = instructions("monitored-postgres.Dockerfile")
    init = (DOCKER / "monitored-init.sh").read_text()

    assert any(op == "RUN" and "hypopg" in argument for op, argument in steps)
    assert "shared_preload_libraries=pg_stat_statements" in dict(steps)["CMD"]
    assert "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" in init
    assert "CREATE EXTENSION IF NOT EXISTS hypopg" in init
    assert "GRANT pg_monitor TO optischema" in init


def test_databases_and_the_control_plane_have_healthchecks_that_order_the_start() -> None:
    for name in ("metadata-db", "monitored-db", "control-plane"):
        assert services()[name]["healthcheck"]["test"], name
    assert services()["control-plane"]["depends_on"] == {
        "migrate": {"condition": "service_completed_successfully"}
    }
    assert services()["migrate"]["depends_on"]["metadata-db"]["condition"] == "service_healthy"
    assert services()["agent"]["depends_on"]["control-plane"]["condition"] == "service_healthy"


def test_the_agent_takes_its_token_from_the_environment_and_reaches_the_control_plane_on_loopback() -> None:
    agent = services()["agent"]
    environment = agent["environment"]

    assert environment["OPTISCHEMA_AGENT_TOKEN"] == "${OPTISCHEMA_AGENT_TOKEN:-}"
    # The agent refuses plain http:// to another host; sharing the control plane's network
    # namespace makes the control plane a loopback address.
    assert agent["network_mode"] == "service:control-plane"
    assert api_base_url(environment["OPTISCHEMA_API_URL"]) == "http://127.0.0.1:8000/api/v1"
    assert environment["OPTISCHEMA_ALLOW_APPLY"] == "${OPTISCHEMA_ALLOW_APPLY:-false}"


def test_the_control_plane_refuses_to_start_without_a_secret_and_listens_on_loopback_only() -> None:
    control_plane = services()["control-plane"]

    assert control_plane["environment"]["OPTISCHEMA_SECRET_KEY"].startswith("${OPTISCHEMA_SECRET_KEY:?")
    assert control_plane["ports"] == ["127.0.0.1:8000:8000"]
    assert control_plane["environment"]["OPTISCHEMA_METADATA_URL"].startswith("postgresql://")


def compose_plugin_available() -> bool:
    if shutil.which("docker") is None:
        return False
    version = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    return version.returncode == 0


@pytest.mark.skipif(not compose_plugin_available(), reason="docker compose is not installed")
def test_docker_compose_accepts_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPTISCHEMA_SECRET_KEY", "x" * 48)
    checked = subprocess.run(
        ["docker", "compose", "--profile", "agent", "config", "--quiet"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )

    assert checked.returncode == 0, checked.stderr
