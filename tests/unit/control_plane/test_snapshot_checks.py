"""A snapshot body checked in a process of its own gets the verdict it gets in a thread of the API
process, and a checking process that dies costs no answer."""

from __future__ import annotations

import errno
import gzip
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest

from control_plane.ingestion import snapshot_checks
from control_plane.ingestion.payload import PayloadRejected
from control_plane.ingestion.snapshot_checks import SnapshotChecks
from tests.integration.control_plane.api.snapshots import as_json, make_snapshot
from tests.process_ends import running_after

LIMIT = 1024 * 1024
REPO = Path(__file__).resolve().parents[3]
ORPHAN_TIMEOUT_S = 30.0
SNAPSHOT = as_json(make_snapshot(statements=20))
VALID = json.dumps(SNAPSHOT).encode()
# Each body as an agent (or somebody else) might send it, with its Content-Encoding.
BODIES: dict[str, tuple[bytes, str | None]] = {
    "valid, gzip": (gzip.compress(VALID), "gzip"),
    "valid, plain": (VALID, None),
    "not gzip": (b"{}", "gzip"),
    "truncated gzip": (gzip.compress(VALID)[:-20], "gzip"),
    "unknown encoding": (VALID, "br"),
    "not JSON": (b"{", None),
    "not an object": (b"[]", None),
    "an unsupported version": (json.dumps({**SNAPSHOT, "schema_version": 99}).encode(), None),
    "a field broken": (json.dumps({**SNAPSHOT, "database_name": 7}).encode(), None),
    "a NUL in a query": (VALID.replace(b"SELECT", b"SELECT\\u0000", 1), None),
    "too large inflated": (gzip.compress(b" " * (LIMIT + 1)), "gzip"),
}


async def verdict(checks: SnapshotChecks, body: bytes, encoding: str | None) -> object:
    try:
        return await checks.snapshot_id(body, encoding, LIMIT)
    except PayloadRejected as rejected:
        return (rejected.status_code, rejected.message, rejected.code)


@pytest.mark.asyncio
@pytest.mark.parametrize("name", BODIES)
async def test_a_body_checked_in_a_process_gets_the_verdict_it_gets_in_a_thread(name: str) -> None:
    body, encoding = BODIES[name]

    in_a_process = await verdict(SnapshotChecks(1), body, encoding)
    in_a_thread = await verdict(SnapshotChecks(0), body, encoding)

    assert in_a_process == in_a_thread
    assert isinstance(in_a_process, uuid.UUID) is name.startswith("valid")


def checking_processes(parent: psutil.Process | None = None) -> list[psutil.Process]:
    """The checking processes among the children of `parent` (this process): those that are
    running, not another test's subprocess that ended and was never waited for (a zombie, whose
    command line cannot be read)."""
    found = []
    for child in (parent or psutil.Process()).children():
        try:
            if any("spawn_main" in part for part in child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue
    return found


@pytest.mark.asyncio
async def test_a_checking_process_that_was_killed_is_started_again_and_the_body_is_checked() -> None:
    checks = SnapshotChecks(1)
    body, encoding = BODIES["valid, gzip"]
    assert await checks.snapshot_id(body, encoding, LIMIT) == uuid.UUID(SNAPSHOT["snapshot_id"])
    killed = checking_processes()
    assert killed
    for process in killed:
        process.send_signal(signal.SIGKILL)
    psutil.wait_procs(killed, timeout=10)

    assert await checks.snapshot_id(body, encoding, LIMIT) == uuid.UUID(SNAPSHOT["snapshot_id"])
    assert checking_processes() and not set(checking_processes()) & set(killed)


# An API process that checks one body, says its pid and waits to be killed.
API_PROCESS = """
import asyncio, os, sys
from control_plane.ingestion.payload import PayloadRejected
from control_plane.ingestion.snapshot_checks import SnapshotChecks

async def check_one():
    try:
        await SnapshotChecks(1).snapshot_id(b"{}", None, 1000)
    except PayloadRejected:
        pass

if __name__ == "__main__":
    asyncio.run(check_one())
    print(os.getpid(), flush=True)
    sys.stdin.read()
"""


def test_the_checking_processes_end_when_the_api_process_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "api_process.py"
    script.write_text(API_PROCESS)
    api = subprocess.Popen(
        [sys.executable, str(script)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])},
    )
    try:
        assert api.stdout is not None
        assert int(api.stdout.readline()) == api.pid
        left_behind = checking_processes(psutil.Process(api.pid))
        assert left_behind
    finally:
        api.kill()
        api.wait()

    # Within a few of their looks at the parent (PARENT_CHECK_INTERVAL_S), none is left running (a
    # zombie that the machine's init has not reaped yet has ended).
    assert running_after(left_behind, ORPHAN_TIMEOUT_S) == []


class CannotStartProcesses:
    """A pool on a machine that cannot start processes (no /dev/shm, a pids limit): OSError."""

    started = 0

    def __init__(self, *args: object, **kwargs: object) -> None:
        CannotStartProcesses.started += 1
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")


@pytest.mark.asyncio
async def test_where_no_checking_process_can_start_bodies_are_checked_in_a_thread_for_a_while(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(snapshot_checks, "ProcessPoolExecutor", CannotStartProcesses)
    monkeypatch.setattr(snapshot_checks, "_POOLS", {})
    monkeypatch.setattr(snapshot_checks, "_cool_off_until", 0.0)
    checks = SnapshotChecks(1)

    for name in ("valid, gzip", "not gzip", "a field broken"):
        assert await verdict(checks, *BODIES[name]) == await verdict(SnapshotChecks(0), *BODIES[name])

    # Two tries at the first body, then none until the cool-off is over.
    assert CannotStartProcesses.started == 2
    assert snapshot_checks._cool_off_until > time.monotonic()
