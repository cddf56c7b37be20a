"""Snapshots as an agent would send them, built from the shared wire models."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.version import PRODUCT_VERSION
from shared.wire.snapshot import IntervalInfo, PlanSample, ServerInfo, Snapshot, StatementStats, TableStats


def fingerprint(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()[:16]


def make_snapshot(statements: int = 3, *, collected_at: datetime | None = None, calls: int = 10) -> Snapshot:
    ended = collected_at or datetime.now(UTC)
    return Snapshot(
        snapshot_id=uuid.uuid4(),
        agent_version=PRODUCT_VERSION,
        collected_at=ended,
        database_name="shop",
        interval=IntervalInfo(
            kind="delta", started_at=ended - timedelta(seconds=30), ended_at=ended, seconds=30.0
        ),
        server=ServerInfo(
            version="15.20", version_num=150020, is_replica=False, settings={"work_mem": "4096kB"}
        ),
        statements=[
            StatementStats(
                fingerprint=fingerprint(n),
                query=f"SELECT * FROM orders WHERE customer_id = $1 AND shard = {n}",
                statement_type="select",
                relations=["orders"],
                calls=calls * (n + 1),
                rows=calls,
                total_exec_time_ms=float(100 * (n + 1)),
                shared_blks_read=n,
            )
            for n in range(statements)
        ],
        tables=[
            TableStats(
                schema_name="public",
                name="orders",
                row_estimate=1e6,
                total_bytes=1,
                table_bytes=1,
                index_bytes=0,
            )
        ],
        plans=[
            PlanSample(
                fingerprint=fingerprint(0), generic=True, total_cost=8291.1, plan={"Node Type": "Seq Scan"}
            )
        ],
    )


def as_json(snapshot: Snapshot) -> dict[str, Any]:
    return snapshot.model_dump(mode="json")


def without_texts(snapshot: Snapshot, *numbers: int) -> dict[str, Any]:
    """The snapshot's JSON with these statements' texts (and relations) left out, as an agent
    sends a statement whose text it sent within the hour."""
    body, left_out = as_json(snapshot), {fingerprint(n) for n in numbers}
    for statement in body["statements"]:
        if statement["fingerprint"] in left_out:
            del statement["query"]
            statement["relations"] = []
    return body
