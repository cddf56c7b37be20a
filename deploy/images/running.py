"""Running a built image where `podman run` cannot (crun here may not set RLIMIT_NOFILE): a buildah
working container, and `buildah run --isolation chroot` with the image's own entry point, command,
user and environment, as `docker run` would use them. Chroot isolation shares the host's network, so
a server inside listens on the host's loopback and a database on 127.0.0.1 is reachable."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from deploy.images.container_tool import STORAGE

STOP_TIMEOUT_S = 20.0


@dataclass
class ImageContainer:
    """A working container of one image; `run` starts a fresh process in it each time."""

    name: str
    config: dict[str, Any]
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def entrypoint(self) -> list[str]:
        return list(self.config.get("Entrypoint") or [])

    @property
    def default_command(self) -> list[str]:
        return list(self.config.get("Cmd") or [])

    @property
    def user(self) -> str:
        return str(self.config.get("User") or "root")

    def command(
        self,
        args: Sequence[str] | None,
        *,
        env: Mapping[str, str] | None = None,
        volumes: Mapping[Path, str] | None = None,
        entrypoint: Sequence[str] | None = None,
    ) -> list[str]:
        """`docker run [--entrypoint E] IMAGE [ARGS]`: the entry point followed by ARGS, else CMD."""
        command = ["buildah", *STORAGE, "run", "--isolation", "chroot", "--user", self.user]
        for name, value in (env or {}).items():
            command += ["--env", f"{name}={value}"]
        for source, target in (volumes or {}).items():
            command += ["--volume", f"{source}:{target}"]
        program = list(entrypoint) if entrypoint is not None else self.entrypoint
        return [*command, self.name, "--", *program, *(self.default_command if args is None else args)]

    def run(
        self, args: Sequence[str] | None = None, *, timeout: float = 180.0, **options: Any
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(args, **options),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    def start(self, args: Sequence[str] | None, log: IO[bytes], **options: Any) -> subprocess.Popen[bytes]:
        """In the background, in a process group of its own so that stop() reaches the server."""
        process = subprocess.Popen(
            self.command(args, **options),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(STOP_TIMEOUT_S)
        self.started.clear()

    def root_files_changed_since(self, moment: float, ignored: Sequence[str]) -> list[str]:
        """Paths of the container's root file system modified after `moment`, except `ignored`
        prefixes: what a read-only root file system would have refused."""
        mounted = subprocess.run(
            ["buildah", *STORAGE, "mount", self.name], capture_output=True, text=True, check=True
        )
        root = Path(mounted.stdout.strip())
        changed: list[str] = []
        try:
            for directory, subdirectories, files in os.walk(root):
                relative = "/" + str(Path(directory).relative_to(root)).lstrip(".")
                subdirectories[:] = [
                    d for d in subdirectories if not _under(f"{relative.rstrip('/')}/{d}", ignored)
                ]
                for name in files:
                    path = Path(directory) / name
                    inside = f"{relative.rstrip('/')}/{name}"
                    if not _under(inside, ignored) and path.lstat().st_mtime > moment:
                        changed.append(inside)
        finally:
            subprocess.run(["buildah", *STORAGE, "umount", self.name], capture_output=True, check=False)
        return changed


def _under(path: str, prefixes: Sequence[str]) -> bool:
    return any(path == prefix or path.startswith(prefix.rstrip("/") + "/") for prefix in prefixes)


@contextmanager
def image_container(image: str, config: dict[str, Any]) -> Iterator[ImageContainer]:
    """`config` is the image's Config from `podman image inspect` (entry point, command, user)."""
    created = subprocess.run(
        ["buildah", *STORAGE, "from", "--pull-never", image], capture_output=True, text=True, check=True
    )
    container = ImageContainer(created.stdout.strip().splitlines()[-1], config)
    try:
        yield container
    finally:
        container.stop_all()
        subprocess.run(["buildah", *STORAGE, "rm", container.name], capture_output=True, check=False)


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout:.0f} s")
        time.sleep(0.2)
