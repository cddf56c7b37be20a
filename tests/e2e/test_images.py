"""Both images built (as `make images` builds them, on a Debian + Python base made here) and run:
the agent image's `check` and `snapshot` against the test cluster and `run --once` against a real
control plane; the control-plane image's `migrate` on a fresh metadata database, then its server's
/healthz and /readyz. Prints the sizes; the agent stays within 80 MB of its base and holds nothing
of the control plane."""

from __future__ import annotations

import json
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from deploy.images.build import BuiltImages, build_images
from deploy.images.container_tool import BUILD_TIMEOUT_S, ContainerTool, NoContainerTool
from deploy.images.running import ImageContainer, image_container, wait_until
from deploy.local.throwaway_cluster import ThrowawayCluster, free_port
from tests.conftest import SUMMARY_PROPERTY
from tests.e2e.conftest import FAST_AGENT, Deployment, plant_events, stored_snapshot_ids

# A cold build (base by debootstrap, both images) takes several minutes on 2 cores; the module's
# fixtures build once, inside the first test's time limit.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(BUILD_TIMEOUT_S)]

AGENT_BUDGET_ABOVE_BASE_BYTES = 80 * 1_000_000
SPOOL_VOLUME = "/var/lib/optischema-agent"
AGENT_UID = 10001  # the images' `optischema` user; a spool on a host directory must be its own
# Written by the runtime itself, not by the agent: mount points and the files buildah bind-mounts.
RUNTIME_PATHS = ["/proc", "/sys", "/dev", "/run", "/tmp", "/etc/hosts", "/etc/resolv.conf", "/etc/hostname"]
CONTROL_PLANE_ONLY = ["control_plane", "migrations", "fastapi", "sqlalchemy", "alembic", "uvicorn", "asyncpg"]
CONTROL_PLANE_ONLY += ["openai", "anthropic", "google.genai", "squawk"]
SERVER_START_TIMEOUT_S = 60.0


@pytest.fixture(scope="module")
def tool() -> ContainerTool:
    try:
        found = ContainerTool.find()
    except NoContainerTool as error:
        pytest.skip(f"images not built: {error}")
    if found.name != "podman" or shutil.which("buildah") is None:
        pytest.skip("images not run: running them here takes podman and buildah (apt-get install buildah)")
    return found


@pytest.fixture(scope="module")
def images(tool: ContainerTool) -> BuiltImages:
    return build_images(tool, local_base=True)


@pytest.fixture(scope="module")
def agent(tool: ContainerTool, images: BuiltImages) -> Iterator[ImageContainer]:
    with image_container(images.agent, tool_config(tool, images.agent)) as container:
        yield container


@pytest.fixture(scope="module")
def control_plane(tool: ContainerTool, images: BuiltImages) -> Iterator[ImageContainer]:
    with image_container(images.control_plane, tool_config(tool, images.control_plane)) as container:
        yield container


def tool_config(tool: ContainerTool, image: str) -> dict[str, object]:
    """The image's Config, with podman's top-level Healthcheck folded in as Docker keeps it."""
    inspected = tool.inspect(image)
    config = inspected["Config"]
    assert isinstance(config, dict)
    return {**config, "Healthcheck": config.get("Healthcheck") or inspected.get("Healthcheck")}


def test_sizes_are_printed_and_the_agent_stays_within_80_mb_of_its_base(
    images: BuiltImages, record_property: Callable[[str, object], None]
) -> None:
    # Printed in the run's summary (tests/conftest.py): a test's own output is not shown when the
    # suite runs in several processes.
    record_property(SUMMARY_PROPERTY, images.report())

    assert images.agent_above_base_bytes <= AGENT_BUDGET_ABOVE_BASE_BYTES


def test_the_agent_image_runs_as_its_own_user_with_the_agent_as_entry_point(agent: ImageContainer) -> None:
    assert agent.entrypoint == ["optischema-agent"]
    assert agent.default_command == ["run"]
    assert agent.user == "optischema"
    assert agent.config["Healthcheck"]["Test"] == ["CMD", "optischema-agent", "check"]
    assert SPOOL_VOLUME in (agent.config.get("Volumes") or {})


def test_nothing_of_the_control_plane_is_importable_in_the_agent_image(agent: ImageContainer) -> None:
    probe = (
        "import importlib.util, sys\n"
        f"names = {CONTROL_PLANE_ONLY!r}\n"
        "found = [n for n in names if importlib.util.find_spec(n.split('.')[0]) is not None]\n"
        "print(' '.join(found))\n"
    )
    found = agent.run(["-c", probe], entrypoint=["python3"])
    plain = agent.run(["-c", "import control_plane"], entrypoint=["python3"])

    assert found.returncode == 0, found.stderr
    assert found.stdout.split() == []
    assert plain.returncode == 1 and "ModuleNotFoundError" in plain.stderr


def test_the_agent_image_checks_and_snapshots_the_test_cluster(
    agent: ImageContainer, db: psycopg.Connection, db_url: str
) -> None:
    plant_events(db)
    db.execute("SELECT count(*) FROM events WHERE device_id = 42")
    env = {"OPTISCHEMA_DATABASE_URL": db_url}

    checked = agent.run(["check"], env=env)
    snapshot = agent.run(["snapshot"], env=env)

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "ok    connection" in checked.stdout
    assert snapshot.returncode == 0, snapshot.stderr
    payload = json.loads(snapshot.stdout)
    assert payload["tables"] and "statements" in payload


def test_the_agent_image_delivers_one_cycle_to_a_real_control_plane_writing_only_its_spool(
    agent: ImageContainer, deployment: Deployment, db: psycopg.Connection, metadata_url: str, tmp_path: Path
) -> None:
    plant_events(db)
    spool = tmp_path / "agent-volume"
    spool.mkdir()
    shutil.chown(spool, AGENT_UID, AGENT_UID)
    env = {
        **FAST_AGENT,
        "OPTISCHEMA_DATABASE_URL": deployment.monitored_url,
        "OPTISCHEMA_API_URL": deployment.server.base_url,
        "OPTISCHEMA_AGENT_TOKEN": deployment.agent_token,
    }
    before = time.time()

    done = agent.run(["run", "--once"], env=env, volumes={spool: SPOOL_VOLUME})

    assert done.returncode == 0, done.stderr
    assert stored_snapshot_ids(metadata_url), done.stderr
    assert (spool / "spool" / "state").is_dir()  # the image's OPTISCHEMA_SPOOL_DIR is on the volume
    # What a read-only root file system would refuse: nothing outside the volume was written.
    assert agent.root_files_changed_since(before, [*RUNTIME_PATHS, SPOOL_VOLUME]) == []


def test_the_control_plane_image_migrates_then_serves_health_and_readiness(
    control_plane: ImageContainer, ready_cluster: ThrowawayCluster, fresh_database: str, tmp_path: Path
) -> None:
    metadata_url = ready_cluster.url(fresh_database)
    assert control_plane.entrypoint == ["optischema-control-plane"]
    assert control_plane.user == "optischema"

    migrated = control_plane.run(
        ["migrate"], entrypoint=["optischema-admin"], env={"OPTISCHEMA_METADATA_URL": metadata_url}
    )
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr

    port = free_port()
    env = {
        "OPTISCHEMA_METADATA_URL": metadata_url,
        "OPTISCHEMA_SECRET_KEY": secrets.token_urlsafe(48),
        "OPTISCHEMA_HOST": "127.0.0.1",  # chroot isolation shares the host's network: loopback only
        "OPTISCHEMA_PORT": str(port),
    }
    log_path = tmp_path / "control-plane-image.log"
    with log_path.open("wb") as log:
        server = control_plane.start(None, log, env=env)
    base_url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        assert server.poll() is None, log_path.read_text()
        try:
            return httpx.get(f"{base_url}/healthz", timeout=2, trust_env=False).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(answers, SERVER_START_TIMEOUT_S, "the control-plane image's server answered /healthz")
    ready = httpx.get(f"{base_url}/readyz", timeout=5, trust_env=False)
    assert ready.status_code == 200, ready.text
    control_plane.stop_all()
    assert server.poll() is not None
