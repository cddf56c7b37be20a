"""A database worth looking at, posted the way an agent posts it: an hour of snapshots of a small
shop's workload with a plan, the server's figures, two overlapping index findings for one statement,
and the indexes of a schema with a duplicate, a redundant, an invalid and an unused index."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from shared.version import PRODUCT_VERSION
from shared.wire.advice import AdviceReport, QueryEvidence, Recommendation
from shared.wire.snapshot import IntervalInfo, PlanSample, ServerInfo, Snapshot, StatementStats
from tests.integration.control_plane.api.conftest import SeededTenant, as_user, bearer, register_database
from tests.integration.control_plane.api.snapshots import fingerprint
from tests.integration.control_plane.changes.flow import send
from tests.integration.control_plane.changes.test_index_health import INDEXES, unused_finding

SNAPSHOTS = 13  # an hour at 5-minute intervals, the first one the agent's baseline
STATEMENTS = [
    ("SELECT product_id, quantity, order_id FROM order_items WHERE product_id = $1", "order_items"),
    ("SELECT * FROM orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT $2", "orders"),
    ("UPDATE stock SET quantity = quantity - $1 WHERE product_id = $2", "stock"),
    (
        "SELECT c.name, sum(o.total) FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.name",
        "orders",
    ),
    ("INSERT INTO order_items (order_id, product_id, quantity) VALUES ($1, $2, $3)", "order_items"),
    ("SELECT count(*) FROM products WHERE category = $1 AND price < $2", "products"),
    ("DELETE FROM sessions WHERE expires_at < now()", "sessions"),
    ("SELECT * FROM customers WHERE lower(email) = lower($1)", "customers"),
]
PLAN = {
    "Node Type": "Hash Join",
    "Join Type": "Inner",
    "Total Cost": 4210.5,
    "Startup Cost": 33.1,
    "Plan Rows": 1200,
    "Hash Cond": "(oi.order_id = o.id)",
    "Plans": [
        {
            "Node Type": "Seq Scan",
            "Relation Name": "order_items",
            "Schema": "public",
            "Alias": "oi",
            "Total Cost": 3890.0,
            "Startup Cost": 0.0,
            "Plan Rows": 1200,
            "Filter": "(product_id = $1)",
        },
        {
            "Node Type": "Hash",
            "Total Cost": 21.0,
            "Startup Cost": 21.0,
            "Plan Rows": 800,
            "Plans": [
                {
                    "Node Type": "Index Only Scan",
                    "Index Name": "orders_pkey",
                    "Relation Name": "orders",
                    "Schema": "public",
                    "Total Cost": 21.0,
                    "Startup Cost": 0.3,
                    "Plan Rows": 800,
                }
            ],
        },
    ],
}


# Four columns, as wide as the advisor's covering candidates get (agent.advise.candidates): the
# 61-character index name is about the longest a page shows, and must not make a phone scroll.
COVERING_COLUMNS = ("product_id", "quantity", "order_id", "unit_price_cents")


@dataclass(frozen=True)
class WalkedDatabase:
    database_id: str
    narrow_id: str
    covering_id: str


def _finding(columns: list[str], improvement: float, size: str) -> Recommendation:
    name = "order_items_" + "_".join(columns) + "_idx"
    return Recommendation(
        id=f"create_index:public.order_items({','.join(columns)})",
        kind="create_index",
        tier="verified",
        sql=f"CREATE INDEX CONCURRENTLY {name} ON public.order_items ({', '.join(columns)});",
        rollback_sql=f"DROP INDEX CONCURRENTLY IF EXISTS public.{name};",
        table="public.order_items",
        columns=columns,
        improvement_pct=improvement,
        queries=[
            QueryEvidence(
                fingerprint=fingerprint(0),
                query=STATEMENTS[0][0],
                calls=2727,
                cost_before=4210.5,
                cost_after=4210.5 * (1 - improvement / 100),
            )
        ],
        rationale=f"HypoPG: the planner uses the index ({size}) and the statement's cost drops {improvement}%.",
    )


def _snapshot(at: datetime, step: int, findings: AdviceReport | None) -> dict[str, Any]:
    wave = 1.0 + 0.5 * math.sin(step / 2)
    snapshot = Snapshot(
        snapshot_id=uuid.uuid4(),
        agent_version=PRODUCT_VERSION,
        collected_at=at,
        database_name="shop",
        interval=IntervalInfo(kind="delta", started_at=at - timedelta(minutes=5), ended_at=at, seconds=300.0),
        server=ServerInfo(
            version="16.4",
            version_num=160004,
            is_replica=False,
            settings={"max_connections": "100", "work_mem": "4096kB"},
            cache_hit_ratio=0.987,
            connections_by_state={"active": 7, "idle": 21},
            transactions_per_second=round(180 * wave, 1),
        ),
        statements=[
            StatementStats(
                fingerprint=fingerprint(n),
                query=text,
                statement_type=text.split()[0].lower(),
                relations=[table],
                calls=int((400 // (n + 1)) * wave),
                rows=int((1200 // (n + 1)) * wave),
                total_exec_time_ms=round((9000 / (n + 1)) * wave, 1),
                shared_blks_hit=5000 // (n + 1),
                shared_blks_read=int(300 * wave) // (n + 1),
                temp_blks_written=40 if n == 3 else 0,
            )
            for n, (text, table) in enumerate(STATEMENTS)
        ],
        tables=[],
        plans=[PlanSample(fingerprint=fingerprint(0), generic=True, total_cost=4210.5, plan=PLAN)],
        findings=findings,
    )
    body = snapshot.model_dump(mode="json")
    body["indexes"] = [index.model_dump(mode="json") for index in INDEXES]
    return body


def walk_database(client: TestClient, tenant: SeededTenant) -> WalkedDatabase:
    database = register_database(client, tenant)
    agent = bearer(database["agent_token"])
    now = datetime.now(UTC).replace(microsecond=0)
    narrow = _finding(["product_id"], 97.1, "2.1 MB")
    covering = _finding(list(COVERING_COLUMNS), 99.4, "3.4 MB")
    report = AdviceReport(
        server_version="16.4",
        hypopg=True,
        statements_analyzed=8,
        recommendations=[narrow, covering, unused_finding()],
    )
    for step in range(SNAPSHOTS):
        last = step == SNAPSHOTS - 1
        send(
            client,
            agent,
            _snapshot(now - timedelta(minutes=5 * (SNAPSHOTS - 1 - step)), step, report if last else None),
        )
    listed = client.get(
        f"/api/v1/databases/{database['id']}/recommendations", headers=as_user(client, tenant, "viewer")
    ).json()
    by_columns = {tuple(item["columns"]): item["id"] for item in listed}
    return WalkedDatabase(database["id"], by_columns[("product_id",)], by_columns[COVERING_COLUMNS])
