"""Our advisor, called only through its CLI contract:

    optischema-agent advise --database-url URL --format json
    optischema-agent advise --benchmark --sandbox-database-url SANDBOX --database-url URL --format json

(the console script beside the running interpreter; `--min-improvement` left at its default; the
benchmark's knobs from their OPTISCHEMA_BENCHMARK_* environment variables, as a user would set them). The
environment variable OPTISCHEMA_BENCH_ADVISOR_CMD replaces `optischema-agent` by another command (split
like a shell would), e.g. a stand-in while the advisor is being written; the arguments are the same.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ADVISOR_CMD_ENV = "OPTISCHEMA_BENCH_ADVISOR_CMD"


@dataclass
class OurAdvice:
    indexes: list[str]
    seconds: float
    statements_analyzed: int | None = None
    recommendations: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[Any] = field(default_factory=list)


def advisor_command() -> list[str]:
    override = os.environ.get(ADVISOR_CMD_ENV)
    if override:
        return shlex.split(override)
    return [str(Path(sys.executable).with_name("optischema-agent"))]


def advise(url: str, timeout_s: float, sandbox_url: str | None = None) -> OurAdvice:
    """With `sandbox_url`: `advise --benchmark` there; the recommendations then hold the tiers it gave."""
    command = [*advisor_command(), "advise", "--database-url", url, "--format", "json"]
    if sandbox_url is not None:
        command += ["--benchmark", "--sandbox-database-url", sandbox_url]
    started = time.perf_counter()
    completed = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env={**os.environ, "OPTISCHEMA_DATABASE_URL": url},
        check=False,
    )
    seconds = time.perf_counter() - started
    if completed.stderr:
        sys.stderr.write(completed.stderr)
    if completed.returncode != 0:
        raise RuntimeError(
            f"{shlex.join(command)} exited with {completed.returncode}: {completed.stderr[-2000:]}"
        )
    document = json.loads(completed.stdout)
    # Advisory ideas (trigram/GIN indexes HypoPG cannot simulate) are for people to judge, not to build
    # unasked: they may need an extension, and they are not the advisor's proven storage.
    recommendations = [
        r
        for r in document.get("recommendations") or []
        if r.get("kind") == "create_index" and r.get("tier") != "advisory"
    ]
    return OurAdvice(
        indexes=[str(r["sql"]) for r in recommendations],
        seconds=seconds,
        statements_analyzed=document.get("statements_analyzed"),
        recommendations=recommendations,
        skipped=list(document.get("skipped") or []),
    )


@dataclass
class BenchmarkedAdvice:
    """`advise --benchmark`'s answer: the survivors (tier `benchmarked`), the demoted (their reasons, from
    `skipped`), and the verified ones it could not measure (their rationale says why)."""

    advice: OurAdvice
    survivors: list[str]
    demoted: list[str]
    not_measured: list[str]


def advise_benchmarked(url: str, sandbox_url: str, timeout_s: float) -> BenchmarkedAdvice:
    advice = advise(url, timeout_s, sandbox_url)
    demoted = sorted(
        {str(s.get("reason")) for s in advice.skipped if "a benchmarked index" in str(s.get("reason") or "")}
    )
    return BenchmarkedAdvice(
        advice=advice,
        survivors=[str(r["sql"]) for r in advice.recommendations if r.get("tier") == "benchmarked"],
        demoted=demoted,
        not_measured=[
            f"{r['sql']}: {r.get('rationale')}" for r in advice.recommendations if r.get("tier") == "verified"
        ],
    )
