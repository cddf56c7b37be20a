"""Builds both images from the repository root: `make images` and the image tests call this."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from deploy.images.container_tool import ContainerTool
from deploy.images.local_base import ensure_local_base

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "deploy" / "docker"
PUBLIC_BASE = "python:3.11-slim"
AGENT_TAG = "localhost/optischema-agent:latest"
CONTROL_PLANE_TAG = "localhost/optischema-control-plane:latest"
# Build-time proxy variables the builders pass into RUN steps without an ARG declaration.
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")


@dataclass(frozen=True)
class BuiltImages:
    base: str
    agent: str
    control_plane: str
    base_bytes: int
    agent_bytes: int
    control_plane_bytes: int

    @property
    def agent_above_base_bytes(self) -> int:
        return self.agent_bytes - self.base_bytes

    def report(self) -> str:
        mb = 1_000_000
        return (
            f"base {self.base}: {self.base_bytes / mb:.1f} MB\n"
            f"agent {self.agent}: {self.agent_bytes / mb:.1f} MB "
            f"({self.agent_above_base_bytes / mb:.1f} MB above its base)\n"
            f"control plane {self.control_plane}: {self.control_plane_bytes / mb:.1f} MB "
            f"({(self.control_plane_bytes - self.base_bytes) / mb:.1f} MB above its base)"
        )


def build_images(tool: ContainerTool, *, local_base: bool, base_image: str | None = None) -> BuiltImages:
    """Builds the agent and the control plane on `base_image`, else on the local Debian base when
    `local_base`, else on the public python:3.11-slim."""
    base = base_image or (ensure_local_base(tool) if local_base else PUBLIC_BASE)
    build_args = {"BASE_IMAGE": base} | {
        name: os.environ[name] for name in PROXY_VARIABLES if name in os.environ
    }
    tool.build(DOCKER / "agent.Dockerfile", AGENT_TAG, REPO, build_args)
    tool.build(DOCKER / "control-plane.Dockerfile", CONTROL_PLANE_TAG, REPO, build_args)
    if tool.name == "podman":
        # Each rebuild leaves the previous image untagged, a full copy with vfs (200-300 MB); the
        # build cache is pip's cache mount, not images, so nothing untagged is worth keeping.
        subprocess.run([*tool.base_command, "image", "prune", "--force"], check=False, capture_output=True)
    return BuiltImages(
        base=base,
        agent=AGENT_TAG,
        control_plane=CONTROL_PLANE_TAG,
        base_bytes=tool.size_bytes(base),
        agent_bytes=tool.size_bytes(AGENT_TAG),
        control_plane_bytes=tool.size_bytes(CONTROL_PLANE_TAG),
    )
