"""Statement contexts as analysis builds them from stored, anonymized snapshots."""

from __future__ import annotations

from typing import Any

from control_plane.analysis.context import (
    ColumnContext,
    IndexContext,
    StatementContext,
    TableContext,
    WorkloadFigures,
)

EVENTS = TableContext(
    name="public.events",
    row_estimate=100_000,
    total_bytes=8 * 2**20,
    columns=(
        ColumnContext("id", "bigint", -1.0),
        ColumnContext("account_id", "integer", 2003),
        ColumnContext("device_id", "integer", 1009),
        ColumnContext("kind", "text", 3),
    ),
    indexes=(IndexContext("events_pkey", ("id",), unique=True, primary=True),),
)


def node(node_type: str, cost: float, rows: float, *children: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"Node Type": node_type, "Total Cost": cost, "Plan Rows": rows, "Plans": list(children), **extra}


def scan(rows: float = 99, filter_: str | None = "(device_id = $1)", **extra: Any) -> dict[str, Any]:
    where = {"Filter": filter_} if filter_ else {}
    return node("Seq Scan", 1693.0, rows, **{"Relation Name": "events", "Schema": "public", **where, **extra})


def statement(
    plan_root: dict[str, Any] | None,
    *,
    query: str = "SELECT id, kind FROM events WHERE device_id = $1",
    statement_type: str = "select",
    temp_blks_written: int = 0,
    calls: int = 40,
) -> StatementContext:
    return StatementContext(
        fingerprint="ea3cf8dd30d23a0e",
        query=query,
        statement_type=statement_type,
        workload=WorkloadFigures(
            calls=calls, total_ms=400.0, load_pct=30.0, temp_blks_written=temp_blks_written
        ),
        plan={"Plan": plan_root} if plan_root else None,
        plan_cost=plan_root["Total Cost"] if plan_root else None,
        tables=(EVENTS,),
        settings={"work_mem": "64kB"},
    )
