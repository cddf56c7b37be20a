"""Index health says what keeping each index costs: the rows its table's writes change per second,
measured from the snapshots' statements as a drop recommendation's risk is."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from shared.wire.advice import AdviceReport
from tests.integration.control_plane.api.conftest import SeededTenant, bearer, register_database
from tests.integration.control_plane.changes.flow import Shop, send, workload
from tests.integration.control_plane.changes.test_index_health import INDEXES, health, unused_finding


def test_each_finding_carries_its_tables_writes_per_second(client: TestClient, acme: SeededTenant) -> None:
    database = register_database(client, acme)
    agent = bearer(database["agent_token"])
    snapshot = workload(
        datetime.now(UTC),
        findings=AdviceReport(
            server_version="16.4", hypopg=True, statements_analyzed=1, recommendations=[unused_finding()]
        ),
    )
    snapshot["statements"][0].update(
        {
            "query": "UPDATE orders SET status = $1 WHERE id = $2",
            "statement_type": "update",
            "calls": 600,
            "rows": 600,
        }
    )  # 600 rows in the snapshot's 30 s: 20 rows/s
    snapshot["indexes"] = [index.model_dump(mode="json") for index in INDEXES]
    send(client, agent, snapshot)

    rows = health(client, Shop(acme, database["id"], agent, ""))

    assert {row["table_writes_per_second"] for row in rows.values()} == {20.0}
