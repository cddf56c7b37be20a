"""A worker writes a database's latest schema statistics when their shape changes (a table, column,
type or index appears or goes, an index's definition or validity changes), and otherwise once per
OPTISCHEMA_SCHEMA_STATS_INTERVAL_S of the snapshots' clock; a store that fails leaves the next one
to write them (control_plane.ingestion.schema_writes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from shared.wire.snapshot import ColumnStats, Snapshot
from tests.index_stats import index_stats
from tests.integration.control_plane.api.conftest import SeededTenant, bearer, register_database
from tests.integration.control_plane.api.snapshots import as_json, make_snapshot
from tests.integration.control_plane.inbox import drain_inbox

SNAPSHOTS = "/api/v1/agent/snapshots"
START = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
INTERVAL = timedelta(seconds=300)  # the default (control_plane.settings)


def snapshot_at(seconds: int, live_tuples: int, **changes: Any) -> Snapshot:
    """A snapshot `seconds` after START whose table counts `live_tuples` (the counter that tells which
    snapshot the stored statistics came from), with its table changed by `changes`."""
    snapshot = make_snapshot(2, collected_at=START + timedelta(seconds=seconds))
    table = snapshot.tables[0].model_copy(update={"n_live_tup": live_tuples, **changes})
    return snapshot.model_copy(update={"tables": [table]})


def with_index(snapshot: Snapshot, name: str, valid: bool = True) -> Snapshot:
    index = index_stats(name, ["customer_id"], scans=7, valid=valid)
    return snapshot.model_copy(update={"indexes": [*snapshot.indexes, index]})


def stored_live_tuples(metadata_url: str, database_id: str) -> tuple[datetime, int] | None:
    with psycopg.connect(metadata_url) as conn:
        row = conn.execute(
            "SELECT collected_at, (tables -> 0 ->> 'n_live_tup')::int FROM database_schemas"
            " WHERE database_id = %s",
            [database_id],
        ).fetchone()
    return None if row is None else (row[0], row[1])


def test_counters_wait_for_the_interval_and_a_change_of_shape_is_written_at_once(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    database = register_database(client, acme)
    agent = bearer(database["agent_token"])

    def store(snapshot: Snapshot) -> tuple[datetime, int] | None:
        assert client.post(SNAPSHOTS, json=as_json(snapshot), headers=agent).status_code == 202
        assert drain_inbox(client) == 1
        return stored_live_tuples(metadata_url, database["id"])

    first_at = START
    assert store(snapshot_at(0, 100)) == (first_at, 100)  # a database seen for the first time
    assert store(snapshot_at(30, 101)) == (first_at, 100)  # only a counter moved: not yet
    column = ColumnStats(name="note", type="text", not_null=False)
    # Each of these changes the shape, and is written at once.
    changes: list[tuple[int, Snapshot]] = [
        (60, with_index(snapshot_at(60, 102), "orders_customer_idx")),
        (90, with_index(snapshot_at(90, 103), "orders_customer_idx", valid=False)),
        (120, with_index(snapshot_at(120, 104, columns=[column]), "orders_customer_idx", valid=False)),
        (150, snapshot_at(150, 105, columns=[column.model_copy(update={"type": "varchar"})])),
    ]
    for seconds, snapshot in changes:
        assert store(snapshot) == (START + timedelta(seconds=seconds), snapshot.tables[0].n_live_tup)
    same_shape = {"columns": [column.model_copy(update={"type": "varchar"})]}
    assert store(snapshot_at(150 + 299, 106, **same_shape)) == (START + timedelta(seconds=150), 105)
    # The interval over, by the snapshots' clock: the counters are written again.
    latest = START + timedelta(seconds=150) + INTERVAL
    assert store(snapshot_at(150 + 300, 107, **same_shape)) == (latest, 107)


def test_a_batch_that_failed_leaves_its_schema_statistics_to_the_retry(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    database = register_database(client, acme)
    agent = bearer(database["agent_token"])
    first, later = snapshot_at(30, 100), snapshot_at(60, 101)
    clash = snapshot_at(30, 999)  # the same statements at the same instant as `first`: it cannot be stored
    for snapshot in (first, clash, later):
        assert client.post(SNAPSHOTS, json=as_json(snapshot), headers=agent).status_code == 202

    # The batch of three fails (and with it the latest statistics it wrote), then each is stored
    # alone: the statistics the database ends with are the latest snapshot's, not none.
    assert drain_inbox(client) == 3
    assert stored_live_tuples(metadata_url, database["id"]) == (later.collected_at, 101)
