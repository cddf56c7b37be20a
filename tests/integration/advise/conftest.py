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


def statement_skips(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The skipped statements themselves, without the count of catalog statements (which
    `fresh_statistics`'s own pg_stat_statements_reset() call adds)."""
    return [item for item in report["skipped"] if item["fingerprint"] is not None]


def run(db: psycopg.Connection, statement: str, parameters: list[list[object]]) -> None:
    for values in parameters:
        db.execute(statement, values)  # type: ignore[arg-type]


def fresh_statistics(db: psycopg.Connection) -> None:
    """Analyze, then start the statement counters from zero so only the planted workload counts."""
    db.execute("ANALYZE")
    db.execute("SELECT pg_stat_statements_reset()")
