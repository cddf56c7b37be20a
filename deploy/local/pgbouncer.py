"""A throwaway PgBouncer (Debian's `pgbouncer`, 1.18 on bookworm) in front of a PostgreSQL server.

Transaction pooling on a free loopback port, with SCRAM for clients (the passwords it knows are in
its own auth file) and few server connections, the way managed set-ups put it in front of a
database. PgBouncer refuses to run as root; as root it is started with `-u postgres`, like the
throwaway clusters.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import psycopg

from deploy.local.child_process import stop_gracefully
from deploy.local.throwaway_cluster import free_port

PGBOUNCER = "/usr/sbin/pgbouncer"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


class PgBouncer:
    def __init__(
        self,
        server_host: str,
        server_port: int,
        users: Mapping[str, str],
        *,
        pool_size: int = 2,
        pool_mode: str = "transaction",
    ) -> None:
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="optischema-pgbouncer-"))
        self._users = dict(users)
        self._config = {
            "listen_addr": "127.0.0.1",
            "listen_port": str(self.port),
            "unix_socket_dir": "",  # loopback TCP only
            "auth_type": "scram-sha-256",
            "auth_file": str(self.directory / "userlist.txt"),
            "pool_mode": pool_mode,
            "default_pool_size": str(pool_size),
            "min_pool_size": "0",
            "reserve_pool_size": "0",
            "max_client_conn": "200",
            "logfile": str(self.directory / "pgbouncer.log"),
            "pidfile": str(self.directory / "pgbouncer.pid"),
            "ignore_startup_parameters": "extra_float_digits",
        }
        self._databases = f"* = host={server_host} port={server_port}"
        self._process: subprocess.Popen[bytes] | None = None

    def url(self, dbname: str, user: str) -> str:
        return f"postgresql://{user}:{self._users[user]}@127.0.0.1:{self.port}/{dbname}"

    def _write_config(self) -> Path:
        # A plain password in the auth file lets PgBouncer do SCRAM with the client and log in to
        # the server as that user; these are throwaway passwords on a throwaway machine.
        userlist = "".join(f'"{user}" "{password}"\n' for user, password in self._users.items())
        (self.directory / "userlist.txt").write_text(userlist)
        settings = "".join(f"{name} = {value}\n" for name, value in self._config.items())
        config = self.directory / "pgbouncer.ini"
        config.write_text(f"[databases]\n{self._databases}\n\n[pgbouncer]\n{settings}")
        return config

    def start(self) -> None:
        config = self._write_config()
        command = [PGBOUNCER]
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            for path in (self.directory, *self.directory.iterdir()):
                os.chown(path, entry.pw_uid, entry.pw_gid)
            command += ["-u", "postgres"]
        self._process = subprocess.Popen(
            [*command, str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        user = next(iter(self._users))
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"pgbouncer exited with {self._process.returncode}: {self.log_tail()}")
            try:
                with psycopg.connect(self.url("postgres", user), connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"pgbouncer did not let {user} in: {self.log_tail()}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        process, self._process = self._process, None
        stop_gracefully(process, STOP_TIMEOUT_S)

    def log_tail(self, chars: int = 3000) -> str:
        log = self.directory / "pgbouncer.log"
        return log.read_text(errors="replace")[-chars:] if log.exists() else ""


@contextmanager
def running_pgbouncer(
    server_host: str, server_port: int, users: Mapping[str, str], *, pool_size: int = 2
) -> Iterator[PgBouncer]:
    bouncer = PgBouncer(server_host, server_port, users, pool_size=pool_size)
    bouncer.start()
    try:
        yield bouncer
    finally:
        bouncer.stop()
        shutil.rmtree(bouncer.directory, ignore_errors=True)
