"""Running `optischema-agent advise --format json` against the test's database."""

from __future__ import annotations

import json
from typing import Any

import psycopg

from tests.integration.agent.conftest import run_agent


def advise(db_url: str, *extra: str) -> dict[str, Any]:
    result = run_agent("advise", "--database-url", db_url, "--format", "json", *extra)
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def created_indexes(report: dict[str, Any]) -> list[tuple[str, tuple[str, ...]]]:
    return sorted(
        (item["table"], tuple(item["columns"]))
        for item in report["recommendations"]
        if item["kind"] == "create_index"
    )


def run(db: psycopg.Connection, statement: str, parameters: list[list[object]]) -> None:
    for values in parameters:
        db.execute(statement, values)  # type: ignore[arg-type]


def fresh_statistics(db: psycopg.Connection) -> None:
    """Analyze, then start the statement counters from zero so only the planted workload counts."""
    db.execute("ANALYZE")
    db.execute("SELECT pg_stat_statements_reset()")
