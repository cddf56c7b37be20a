"""What a 5,000-statement snapshot costs the control plane's Python, in instructions, not seconds.

The CPU-time benchmarks (`ingestion_store_cost`, `statement_encoding`) move by a fifth from run to
run on a shared 2-core machine, and on 2026-12-06 by up to a third within one run: too much to
see a cut of 10 %, or to compare two days. valgrind's callgrind counts the instructions a process
executes, which is the same for the same binary and inputs whatever else the machine is doing.
This runs the two Python steps every snapshot goes through under it, on the same 8 bodies
(seeded workloads, one fixed time; each snapshot's id is random, the only input that varies):

- **check**: what accepting a body costs its checking process (`payload.decode_snapshot`, every
  rule: inflate, decode, validate);
- **worker**: what storing costs a worker before PostgreSQL, in a batch of 8 (the worker's
  counters-only decode of each body, then the COPY data of the batch, `batch_rows.copy_data`).

Each is run once with the 8 bodies and once without, and the difference divided by 8: Python's
start and the imports (~1.5 billion instructions) cancel out. Millions of instructions per
snapshot; no budgets (the goal is the rate `ingestion_workers` judges). Two runs at a time, ~2
minutes. valgrind comes from Debian (deploy/local/install_system_deps.sh); without it the
figures are null and say why.

On 2026-12-06: check 144.5 -> 121-122 million (the body read in one pass), worker 172.4 -> 132.3
million (that, and each row's counters packed in one call for the COPY data).
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.control_plane_ingestion import build_workload, snapshot_body
from control_plane.ingestion.batch_rows import copy_data
from control_plane.ingestion.inbox_worker import BATCH_SIZE
from control_plane.ingestion.payload import decode_snapshot
from control_plane.settings import Settings

BODIES = BATCH_SIZE  # the worker's largest batch
STEPS = ("check", "worker")
_COLLECTED = re.compile(r"Collected : (\d+)")
_MAX_BODY: int = Settings.model_fields["max_body_bytes"].default


def say(message: str) -> None:
    print(f"ingestion_instructions: {message}", file=sys.stderr, flush=True)


def write_bodies(directory: Path) -> list[Path]:
    """The bodies as the agent sends them (gzipped JSON), one file each."""
    paths = []
    for number in range(BODIES):
        body = snapshot_body(
            build_workload(seed=number), random.Random(number), datetime(2026, 12, 6, tzinfo=UTC)
        )
        path = directory / f"{number}.json.gz"
        path.write_bytes(body)
        paths.append(path)
    return paths


def drive(step: str, paths: list[str]) -> None:
    """The step over these bodies (none: only Python's start and the imports), in this process."""
    bodies = [Path(path).read_bytes() for path in paths]
    if step == "check":
        for body in bodies:
            decode_snapshot(body, "gzip", _MAX_BODY)
    elif bodies:
        batch = [decode_snapshot(body, "gzip", _MAX_BODY, counters_only=True) for body in bodies]
        copy_data([decoded.statements for decoded in batch])


def instructions(valgrind: str, step: str, paths: list[Path]) -> int:
    """The instructions a Python process running `drive(step, paths)` executes, start to end."""
    finished = subprocess.run(
        [
            valgrind,
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            "-m",
            "benchmarks.ingestion_instructions",
            "--drive",
            step,
            *map(str, paths),
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},  # sets and dicts laid out the same every run
    )
    found = _COLLECTED.search(finished.stderr)
    if found is None:
        raise RuntimeError(f"callgrind printed no count: {finished.stderr[-500:]}")
    return int(found.group(1))


def main() -> list[dict[str, object]]:
    valgrind = shutil.which("valgrind")
    per_snapshot: dict[str, float | None] = dict.fromkeys(STEPS)
    if valgrind is None:
        say("valgrind is not installed (Debian: valgrind); no figures")
    else:
        with tempfile.TemporaryDirectory() as scratch:
            paths = write_bodies(Path(scratch))
            for step in STEPS:
                with ThreadPoolExecutor(2) as pool:  # one process per core; counts are unaffected
                    with_bodies = pool.submit(instructions, valgrind, step, paths)
                    without = pool.submit(instructions, valgrind, step, [])
                    difference = with_bodies.result() - without.result()
                per_snapshot[step] = round(difference / BODIES / 1e6, 1)
                say(f"{step}: {per_snapshot[step]} million instructions per snapshot")
    return [
        {
            "name": f"ingestion_instructions_{step}_per_snapshot",
            "value": value,
            "unit": "million instructions",
            "budget": None,
        }
        for step, value in per_snapshot.items()
    ]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--drive"]:
        drive(sys.argv[2], sys.argv[3:])
    else:
        print(json.dumps({"benchmarks": main()}, indent=2))
