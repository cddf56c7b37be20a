"""The container tool: podman to build and inspect, buildah to run a command inside an image.

Both use the vfs storage driver and chroot isolation, which work inside an unprivileged sandbox where
overlay mounts and `podman run` do not (crun there cannot set RLIMIT_NOFILE). A machine with Docker
uses `docker build`; running images is then left to `docker run` (not needed by `make images`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

STORAGE = ["--storage-driver", "vfs"]
BUILD_TIMEOUT_S = 1800.0


class NoContainerTool(RuntimeError):
    """Neither podman nor docker is installed."""


@dataclass(frozen=True)
class ContainerTool:
    name: str  # "podman" or "docker"

    @classmethod
    def find(cls) -> ContainerTool:
        for name in ("podman", "docker"):
            if shutil.which(name):
                return cls(name)
        raise NoContainerTool(
            "no container tool: install podman and buildah (Debian: apt-get install podman buildah)"
        )

    @property
    def base_command(self) -> list[str]:
        return [self.name, *STORAGE] if self.name == "podman" else [self.name]

    def build(self, dockerfile: Path, tag: str, context: Path, build_args: dict[str, str]) -> None:
        command = [*self.base_command, "build", "-f", str(dockerfile), "-t", tag]
        if self.name == "podman":
            # The docker format keeps HEALTHCHECK, which the OCI format drops. Without per-step
            # layers: with vfs each cached step is a full copy of the root file system (about 200 MB,
            # some 40 of them for both images), slower than the pip install they would save.
            command += ["--isolation", "chroot", "--format", "docker", "--layers=false"]
        for name, value in build_args.items():
            command += ["--build-arg", f"{name}={value}"]
        subprocess.run([*command, str(context)], check=True, timeout=BUILD_TIMEOUT_S)

    def exists(self, image: str) -> bool:
        if self.name == "podman":
            found = subprocess.run([*self.base_command, "image", "exists", image], check=False)
        else:
            found = subprocess.run(["docker", "image", "inspect", image], capture_output=True, check=False)
        return found.returncode == 0

    def inspect(self, image: str) -> dict[str, object]:
        shown = subprocess.run(
            [*self.base_command, "image", "inspect", image], capture_output=True, text=True, check=True
        )
        found: list[dict[str, object]] = json.loads(shown.stdout)
        return found[0]

    def size_bytes(self, image: str) -> int:
        size = self.inspect(image)["Size"]
        assert isinstance(size, int)
        return size

    def import_rootfs(self, tarball: Path, tag: str, changes: list[str]) -> None:
        command = [*self.base_command, "import"]
        for change in changes:
            command += ["--change", change]
        subprocess.run([*command, str(tarball), tag], check=True, capture_output=True, timeout=600)
