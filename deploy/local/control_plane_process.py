"""The control plane as an operator runs it: `optischema-admin` and `optischema-control-plane`
as subprocesses on a free loopback port. Shared by the demo, the end-to-end tests and benchmarks.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from deploy.local.child_process import stop_gracefully
from deploy.local.throwaway_cluster import free_port

SCRIPTS = Path(sys.executable).parent
SERVER_START_TIMEOUT_S = 60.0
SERVER_STOP_TIMEOUT_S = 30.0


def control_plane_environment(metadata_url: str) -> dict[str, str]:
    """This process's environment without any OPTISCHEMA_* setting the caller did not choose."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("OPTISCHEMA_")}
    env["OPTISCHEMA_METADATA_URL"] = metadata_url
    return env


def run_admin(metadata_url: str, *args: str) -> str:
    done = subprocess.run(
        [str(SCRIPTS / "optischema-admin"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=control_plane_environment(metadata_url),
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"optischema-admin {args[0]} failed: {done.stderr.strip()}")
    return done.stdout


class ControlPlaneProcess:
    """A running server: its base URL, and stop/start to simulate an outage on the same port."""

    def __init__(self, metadata_url: str, log_path: Path, env: Mapping[str, str] | None = None) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._env = {
            **control_plane_environment(metadata_url),
            "OPTISCHEMA_SECRET_KEY": secrets.token_urlsafe(48),
            "OPTISCHEMA_HOST": "127.0.0.1",
            "OPTISCHEMA_PORT": str(self.port),
            "OPTISCHEMA_WORKERS": "off",
            "OPTISCHEMA_LOGIN_RATE_LIMIT": "1000/minute",
            **(env or {}),
        }
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The running server's process id (its snapshot-checking processes are its children)."""
        if self._process is None:
            raise RuntimeError("the control plane is not running")
        return self._process.pid

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [str(SCRIPTS / "optischema-control-plane")],
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        with httpx.Client(base_url=self.base_url, timeout=2.0, trust_env=False) as client:
            while True:
                if self._process.poll() is not None:
                    raise RuntimeError(
                        f"the control plane exited with {self._process.returncode}:\n{self.log_tail()}"
                    )
                try:
                    if client.get("/healthz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the control plane did not answer /healthz in time:\n{self.log_tail()}"
                    )
                time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would end it: no graceful shutdown at all."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=SERVER_STOP_TIMEOUT_S)

    def stop(self) -> None:
        process, self._process = self._process, None
        stop_gracefully(process, SERVER_STOP_TIMEOUT_S)  # SIGTERM: uvicorn shuts down gracefully

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


@contextmanager
def control_plane_server(
    metadata_url: str, log_path: Path, env: Mapping[str, str] | None = None
) -> Iterator[ControlPlaneProcess]:
    """The server as a subprocess on a free loopback port; SIGTERM at the end."""
    server = ControlPlaneProcess(metadata_url, log_path, env)
    server.start()
    try:
        yield server
    finally:
        server.stop()
