"""Ingestion keeps each day's rollup equal to the sum of the day's raw rows, as it does each hour's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
from fastapi.testclient import TestClient

from tests.integration.control_plane.api.conftest import SeededTenant, bearer, register_database
from tests.integration.control_plane.api.snapshots import as_json, make_snapshot
from tests.integration.control_plane.inbox import drain_inbox
from tests.integration.control_plane.test_statement_rollups_schema import COUNTERS


def test_ingestion_keeps_each_day_the_sum_of_its_raw_rows(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    agent = bearer(register_database(client, acme)["agent_token"])
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    for at in (
        midnight - timedelta(minutes=1),
        midnight + timedelta(seconds=1),
        midnight + timedelta(hours=2),
    ):
        sent = client.post(
            "/api/v1/agent/snapshots", json=as_json(make_snapshot(collected_at=at)), headers=agent
        )
        assert sent.status_code == 202, sent.text
    drain_inbox(client)

    sums = ", ".join(f"sum({name})" for name in COUNTERS)
    day = "date_trunc('day', collected_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    with psycopg.connect(metadata_url) as conn:
        raw = conn.execute(
            f"SELECT fingerprint, {day}, count(*), {sums} FROM statement_stats GROUP BY 1, 2 ORDER BY 2, 1"
        ).fetchall()
        rolled = conn.execute(
            f"SELECT fingerprint, bucket, samples, {', '.join(COUNTERS)} FROM statement_daily_rollups ORDER BY 2, 1"
        ).fetchall()
    assert len(raw) == 6  # 3 statements on each of two days
    assert [tuple(map(float, row[2:])) for row in rolled] == [tuple(map(float, row[2:])) for row in raw]
    assert [row[:2] for row in rolled] == [row[:2] for row in raw]
