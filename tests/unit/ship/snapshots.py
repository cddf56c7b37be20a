"""Real Snapshot objects for the shipping tests: statements with plans, a table and an index."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

from shared.version import PRODUCT_VERSION
from shared.wire.snapshot import (
    DroppedStatements,
    IndexStats,
    IntervalInfo,
    PlanSample,
    ServerInfo,
    Snapshot,
    StatementStats,
    TableStats,
)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def fingerprint(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()[:16]


def statement(n: int) -> StatementStats:
    return StatementStats(
        fingerprint=fingerprint(n),
        query=f"SELECT * FROM orders WHERE customer_id = $1 AND shard = {n}",
        statement_type="select",
        relations=["public.orders"],
        calls=10 * (n + 1),
        rows=10,
        total_exec_time_ms=float(100 * (n + 1)),
    )


def make_snapshot(
    statements: int = 3,
    *,
    collected_at: datetime = T0,
    snapshot_id: uuid.UUID | None = None,
    plans_for: tuple[int, ...] = (0,),
) -> Snapshot:
    return Snapshot(
        snapshot_id=snapshot_id or uuid.uuid4(),
        agent_version=PRODUCT_VERSION,
        collected_at=collected_at,
        database_name="shop",
        interval=IntervalInfo(
            kind="delta",
            started_at=collected_at - timedelta(seconds=30),
            ended_at=collected_at,
            seconds=30.0,
            entries_deallocated=4,
        ),
        server=ServerInfo(version="15.20", version_num=150020, is_replica=False),
        statements=[statement(n) for n in range(statements)],
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
        indexes=[
            IndexStats(
                schema_name="public",
                table="orders",
                name="orders_pkey",
                definition="CREATE UNIQUE INDEX orders_pkey ON public.orders USING btree (id)",
                columns=["id"],
                access_method="btree",
                is_unique=True,
                is_primary=True,
                is_valid=True,
                is_partial=False,
                backs_constraint=True,
                size_bytes=8192,
            )
        ],
        plans=[
            PlanSample(
                fingerprint=fingerprint(n),
                generic=True,
                total_cost=float(n + 1),
                plan={"Node Type": "Seq Scan"},
            )
            for n in plans_for
        ],
        dropped=DroppedStatements(utility=2),
    )
