"""docker-compose.yml against the images it runs: each service's entry point and command are the
image's (or a console script in it), and every OPTISCHEMA_* variable it sets is one the deployable
reads. The images themselves are built and run in tests/e2e/test_images.py."""

from __future__ import annotations

import json

import pytest

from tests.unit.deploy.read_settings import agent_variables, control_plane_variables, dockerfile_environment
from tests.unit.deploy.test_docker_packaging import CONSOLE_SCRIPTS, final_stage, services

READERS = {
    "agent.Dockerfile": agent_variables,
    "control-plane.Dockerfile": control_plane_variables,
}


def image_of(service: str) -> str:
    return str(services()[service]["build"]["dockerfile"]).rsplit("/", 1)[-1]


@pytest.mark.parametrize("service", ["migrate", "control-plane", "agent"])
def test_each_service_runs_a_console_script_of_its_image(service: str) -> None:
    definition = services()[service]
    steps = dict(final_stage(image_of(service)))
    image_entrypoint = json.loads(steps["ENTRYPOINT"])

    assert definition["entrypoint"][0] in CONSOLE_SCRIPTS
    if definition["entrypoint"] == image_entrypoint and "CMD" in steps:
        assert definition.get("command", json.loads(steps["CMD"])) == json.loads(steps["CMD"])


@pytest.mark.parametrize("service", ["migrate", "control-plane", "agent"])
def test_every_variable_a_service_sets_is_read_by_its_deployable(service: str) -> None:
    read = READERS[image_of(service)]()
    names = {name for name in services()[service]["environment"] if name.startswith("OPTISCHEMA_")}

    assert names and names <= read, names - read


@pytest.mark.parametrize("dockerfile", sorted(READERS))
def test_every_variable_an_image_sets_is_read_by_its_deployable(dockerfile: str) -> None:
    names = dockerfile_environment(dockerfile)

    assert names and names <= READERS[dockerfile](), names - READERS[dockerfile]()
