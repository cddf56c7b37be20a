"""Squawk's findings on a recommendation's DDL: shown before approval, they inform and never block.

squawk (the `squawk-cli` wheel) is a binary next to the interpreter. It runs once per SQL text:
the findings are cached on the recommendation and dropped when its SQL changes. Rules that
contradict how the agent applies a change are excluded (see Settings.squawk_excluded_rules). When
squawk cannot run, the finding says so instead of failing the request.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TypedDict

log = logging.getLogger(__name__)
UNAVAILABLE = "squawk-unavailable"


class Finding(TypedDict):
    rule: str
    message: str
    help: str | None


def squawk_binary() -> str | None:
    beside = Path(sys.executable).with_name("squawk")
    return str(beside) if beside.exists() else shutil.which("squawk")


def _findings(output: bytes) -> list[Finding]:
    reported = json.loads(output.decode() or "[]")
    return [
        Finding(rule=str(item["rule_name"]), message=str(item["message"]), help=item.get("help"))
        for item in reported
    ]


async def lint_sql(sql: str, *, excluded_rules: Sequence[str], timeout_s: float) -> list[Finding]:
    """squawk's findings on `sql` (one or more statements), minus the excluded rules."""
    binary = squawk_binary()
    if binary is None:
        return [Finding(rule=UNAVAILABLE, message="squawk is not installed on the control plane", help=None)]
    arguments = [binary, "--reporter", "json", "--stdin-filepath", "recommendation.sql"]
    if excluded_rules:
        arguments.append(f"--exclude={','.join(excluded_rules)}")
    try:
        process = await asyncio.create_subprocess_exec(
            *arguments,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        output, errors = await asyncio.wait_for(process.communicate(sql.encode()), timeout=timeout_s)
        # Exit status 1 means "found something"; anything else with no JSON is a failure.
        if process.returncode not in (0, 1) and not output.strip():
            raise ValueError(
                errors.decode(errors="replace").strip()[:300] or f"exit status {process.returncode}"
            )
        return _findings(output)
    except TimeoutError:
        process.kill()
        message = f"squawk did not answer within {timeout_s:g} s"
    except (OSError, ValueError, KeyError) as error:
        message = f"squawk could not lint this SQL: {error}"
    log.warning("%s", message)
    return [Finding(rule=UNAVAILABLE, message=message, help=None)]
