"""A worker stores a database's waiting snapshots as one batch: the rollups still hold exactly the
sums of the raw rows (and their count) per hour and per day, and an entry at fault fails alone."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import psycopg
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.api.services import AppServices
from control_plane.db.engine import create_engine
from control_plane.db.session import tenant_session
from control_plane.ingestion.inbox_worker import BATCH_SIZE, store_batch
from control_plane.ingestion.payload import parse_snapshot
from control_plane.ingestion.repository import daily_bucket, rollup_bucket
from control_plane.ingestion.service import IngestionService
from control_plane.tenancy.context import TenantContext
from shared.wire.snapshot import Snapshot
from tests.integration.control_plane.api.conftest import SeededTenant, bearer, register_database, settings_for
from tests.integration.control_plane.api.snapshots import as_json, make_snapshot
from tests.integration.control_plane.inbox import drain_inbox, fold_days

SNAPSHOTS = "/api/v1/agent/snapshots"
# Two days ago, across midnight and three hours: 23:10 23:40 | 00:05 00:35 00:55 | 01:20.
MIDNIGHT = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
COLLECTED = [MIDNIGHT + timedelta(minutes=m) for m in (-50, -20, 5, 35, 55, 80)]
Sums = tuple[int, int, int, float, int]  # samples, calls, rows, total_exec_time_ms, shared_blks_read
BLOCKED_TIMEOUT_S = 10.0


def store_one_batch(client: TestClient, tenant: SeededTenant) -> int:
    app = client.app
    assert isinstance(app, FastAPI)
    services: AppServices = app.state.services
    return client.portal.call(store_batch, services.engine, services.settings, tenant.id, BATCH_SIZE)  # type: ignore[union-attr]


def expected_rollups(metadata_url: str, database_id: str) -> tuple[dict[tuple[str, datetime], Sums], ...]:
    """The hourly and daily sums of the raw rows, added up here."""
    with psycopg.connect(metadata_url) as conn:
        rows = conn.execute(
            "SELECT fingerprint, collected_at, calls, rows, total_exec_time_ms, shared_blks_read "
            "FROM statement_stats WHERE database_id = %s",
            [database_id],
        ).fetchall()
    hourly: dict[tuple[str, datetime], list[float]] = defaultdict(lambda: [0, 0, 0, 0.0, 0])
    daily: dict[tuple[str, datetime], list[float]] = defaultdict(lambda: [0, 0, 0, 0.0, 0])
    for fingerprint, at, *counters in rows:
        for sums, bucket in ((hourly, rollup_bucket(at)), (daily, daily_bucket(at))):
            total = sums[(fingerprint, bucket)]
            total[0] += 1
            for index, value in enumerate(counters, start=1):
                total[index] += value
    return tuple({key: tuple(value) for key, value in sums.items()} for sums in (hourly, daily))  # type: ignore[misc]


def stored_rollups(metadata_url: str, database_id: str, table: str) -> dict[tuple[str, datetime], Sums]:
    with psycopg.connect(metadata_url) as conn:
        rows = conn.execute(
            f"SELECT fingerprint, bucket, samples, calls, rows, total_exec_time_ms, shared_blks_read "
            f"FROM {table} WHERE database_id = %s",
            [database_id],
        ).fetchall()
    return {(row[0], row[1]): tuple(row[2:]) for row in rows}


def test_a_batch_across_hours_and_midnight_rolls_up_exactly(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    database = register_database(client, acme)
    agent = bearer(database["agent_token"])
    # One snapshot stored alone first, so that the batch adds to rows that exist as well as new ones,
    # and the hours to 01:00 folded: the batch's snapshots of those hours add to their days at once
    # (23:40 alone on its day, 00:05 00:35 00:55 summed first), the 01:20 one waits for the fold.
    assert client.post(SNAPSHOTS, json=as_json(make_snapshot(4, collected_at=COLLECTED[0])), headers=agent)
    drain_inbox(client)
    fold_days(client, MIDNIGHT + timedelta(hours=1))
    for number, at in enumerate(COLLECTED[1:], start=1):
        # Each with its own counts, and statements that come and go between snapshots.
        snapshot = make_snapshot(statements=2 + number % 4, collected_at=at, calls=number * 7)
        assert client.post(SNAPSHOTS, json=as_json(snapshot), headers=agent).status_code == 202

    assert store_one_batch(client, acme) == len(COLLECTED) - 1  # all of them, in one transaction

    hourly, daily = expected_rollups(metadata_url, database["id"])
    assert len(hourly) > len(daily) > 4
    assert stored_rollups(metadata_url, database["id"], "statement_rollups") == hourly
    before_the_fold = stored_rollups(metadata_url, database["id"], "statement_daily_rollups")
    assert before_the_fold != daily and {key[1] for key in before_the_fold} == {
        MIDNIGHT - timedelta(days=1),
        MIDNIGHT,
    }
    fold_days(client, MIDNIGHT + timedelta(hours=2))
    assert stored_rollups(metadata_url, database["id"], "statement_daily_rollups") == daily
    with psycopg.connect(metadata_url) as conn:
        assert conn.execute("SELECT count(*) FROM snapshots").fetchone() == (len(COLLECTED),)
        assert conn.execute("SELECT count(*) FROM snapshot_inbox").fetchone() == (0,)
        # The worker read only the counters, and the statements' text where the catalog lacked it:
        # every statement is there with its text, those first seen in the batch's later snapshots too.
        uncatalogued = conn.execute(
            "SELECT DISTINCT s.fingerprint FROM statement_stats s WHERE s.database_id = %s"
            "   AND NOT EXISTS (SELECT 1 FROM statements c WHERE c.database_id = s.database_id"
            "                      AND c.fingerprint = s.fingerprint AND c.query LIKE 'SELECT %%')",
            [database["id"]],
        ).fetchall()
        assert uncatalogued == []


def test_an_entry_that_fails_in_a_batch_waits_alone_and_the_others_are_stored(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    agent = bearer(register_database(client, acme)["agent_token"])
    first = make_snapshot(3, collected_at=COLLECTED[2])
    # The same statements at the same instant as `first`: its raw rows collide with first's.
    clash = make_snapshot(3, collected_at=COLLECTED[2])
    later = make_snapshot(3, collected_at=COLLECTED[3])
    for snapshot in (first, clash, later):
        assert client.post(SNAPSHOTS, json=as_json(snapshot), headers=agent).status_code == 202

    assert store_one_batch(client, acme) == 3

    with psycopg.connect(metadata_url) as conn:
        stored = {row[0] for row in conn.execute("SELECT snapshot_id FROM snapshots").fetchall()}
        waiting = conn.execute("SELECT snapshot_id, attempts, last_error FROM snapshot_inbox").fetchall()
        raw = conn.execute("SELECT count(*) FROM statement_stats").fetchone()
    assert stored == {first.snapshot_id, later.snapshot_id}
    assert [(row[0], row[1]) for row in waiting] == [(clash.snapshot_id, 1)]
    assert "IntegrityError" in waiting[0][2]
    assert raw == (6,)


def test_a_batch_stores_the_schema_statistics_of_its_latest_snapshot_whatever_their_order(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    agent = bearer(register_database(client, acme)["agent_token"])
    snapshots = [make_snapshot(2, collected_at=at) for at in COLLECTED[:3]]
    # Each with its own live-tuple count, so that the stored one says which snapshot it came from.
    snapshots = [
        s.model_copy(update={"tables": [s.tables[0].model_copy(update={"n_live_tup": 100 + n})]})
        for n, s in enumerate(snapshots)
    ]
    latest = snapshots[2]
    for snapshot in (snapshots[0], latest, snapshots[1]):  # the latest is not the last to arrive
        assert client.post(SNAPSHOTS, json=as_json(snapshot), headers=agent).status_code == 202

    assert store_one_batch(client, acme) == 3

    with psycopg.connect(metadata_url) as conn:
        row = conn.execute("SELECT collected_at, tables FROM database_schemas").fetchone()
    assert row == (latest.collected_at, [latest.tables[0].model_dump(mode="json")])
    assert row[1][0]["n_live_tup"] == 102


def test_a_resent_snapshot_in_a_batch_is_stored_once(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    agent = bearer(register_database(client, acme)["agent_token"])
    snapshots = [make_snapshot(2, collected_at=at) for at in COLLECTED[:3]]
    for snapshot in snapshots:
        client.post(SNAPSHOTS, json=as_json(snapshot), headers=agent)
    resent = [client.post(SNAPSHOTS, json=as_json(s), headers=agent).status_code for s in snapshots]

    assert store_one_batch(client, acme) == 3
    assert resent == [200, 200, 200]
    with psycopg.connect(metadata_url) as conn:
        # 2 statements x 2 hours (23:10 and 23:40, then 00:05), 6 raw rows in all.
        assert conn.execute("SELECT count(*), sum(samples) FROM statement_rollups").fetchone() == (4, 6)
        assert conn.execute("SELECT count(*) FROM snapshots").fetchone() == (3,)


def test_a_batch_whose_snapshots_share_no_hour_or_day_rolls_up_exactly_too(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    database = register_database(client, acme)
    agent = bearer(database["agent_token"])
    for number, at in enumerate((COLLECTED[0], COLLECTED[2])):  # 23:10, then 00:05 the next day
        snapshot = make_snapshot(statements=3 + number, collected_at=at, calls=number + 2)
        assert client.post(SNAPSHOTS, json=as_json(snapshot), headers=agent).status_code == 202

    fold_days(client, MIDNIGHT + timedelta(hours=1))  # both hours folded: each adds to its day at once

    assert store_one_batch(client, acme) == 2

    hourly, daily = expected_rollups(metadata_url, database["id"])
    assert stored_rollups(metadata_url, database["id"], "statement_rollups") == hourly
    assert stored_rollups(metadata_url, database["id"], "statement_daily_rollups") == daily
    assert len(hourly) == len(daily) == 7


def wait_until_a_backend_waits_for(metadata_url: str, wait_event: str) -> None:
    deadline = time.monotonic() + BLOCKED_TIMEOUT_S
    with psycopg.connect(metadata_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND wait_event = %s AND datname = current_database()",
                [wait_event],
            ).fetchone()
            if waiting and waiting[0]:
                return
            time.sleep(0.02)
    raise AssertionError(f"no transaction waited for a lock ({wait_event}) within {BLOCKED_TIMEOUT_S}s")


def test_two_transactions_storing_one_databases_hour_take_turns_and_both_count(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    """The second starts while the first, which updated three rollup rows and inserted three, has
    not committed: it waits for the database's lock (the rollup statements of two batches at once
    could deadlock, see DailyFoldRepository.hold), then adds to the rows the first left, old and
    new. Neither snapshot's counts are lost."""
    database = register_database(client, acme)
    agent = bearer(database["agent_token"])
    hour = rollup_bucket(datetime.now(UTC)) - timedelta(hours=3)
    # The catalog knows all six statements (an hour earlier); this hour's rollup has three of them.
    for snapshot in (
        make_snapshot(statements=6, collected_at=hour - timedelta(minutes=30)),
        make_snapshot(statements=3, collected_at=hour + timedelta(minutes=1)),
    ):
        assert client.post(SNAPSHOTS, json=as_json(snapshot), headers=agent).status_code == 202
    assert drain_inbox(client) == 2
    first, second = (
        make_snapshot(statements=6, collected_at=hour + timedelta(minutes=m), calls=calls)
        for m, calls in ((2, 3), (3, 5))
    )
    context = TenantContext(tenant_id=acme.id, principal="agent", database_id=uuid.UUID(database["id"]))

    async def store(engine: AsyncEngine, snapshot: Snapshot, before_commit: asyncio.Event | None) -> None:
        async with tenant_session(engine, context) as session:
            await IngestionService(session, context).store(
                [parse_snapshot(snapshot.model_dump_json().encode())]
            )
            if before_commit is not None:
                before_commit.set()
                await asyncio.to_thread(wait_until_a_backend_waits_for, metadata_url, "advisory")

    async def race() -> None:
        first_stored = asyncio.Event()
        engines = [create_engine(settings_for(metadata_url), pool_size=1, max_overflow=0) for _ in range(2)]

        async def second_once_first_stored() -> None:
            await first_stored.wait()
            await store(engines[1], second, None)

        try:
            await asyncio.gather(store(engines[0], first, first_stored), second_once_first_stored())
        finally:
            for engine in engines:
                await engine.dispose()

    asyncio.run(race())

    hourly, _ = expected_rollups(metadata_url, database["id"])
    assert stored_rollups(metadata_url, database["id"], "statement_rollups") == hourly
    assert {samples for (_, bucket), (samples, *_) in hourly.items() if bucket == hour} == {2, 3}


def test_storing_a_snapshot_reads_only_its_own_hours_and_days_rollups(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    """The rollup updates name the batch's hours (and folded days), so the planner keeps only their
    partitions: it neither reads nor locks yesterday's. Without them it read every rollup row of
    the database, of every day retained, to find the 5,000 of one hour. Here yesterday's hourly and
    daily partitions are locked whole by another transaction while a snapshot of an hour already
    folded is stored, adding to its hour and to its day, which does not wait for them."""
    database = register_database(client, acme)
    agent = bearer(database["agent_token"])
    hour = rollup_bucket(datetime.now(UTC)) - timedelta(hours=3)
    yesterday = hour - timedelta(days=1)
    for at in (yesterday, hour):
        snapshot = make_snapshot(statements=4, collected_at=at + timedelta(minutes=1))
        assert client.post(SNAPSHOTS, json=as_json(snapshot), headers=agent).status_code == 202
    assert drain_inbox(client) == 2
    fold_days(client, hour + timedelta(hours=1))  # the hour is folded: a snapshot of it adds to its day
    later = make_snapshot(statements=4, collected_at=hour + timedelta(minutes=2), calls=7)
    context = TenantContext(tenant_id=acme.id, principal="agent", database_id=uuid.UUID(database["id"]))

    async def store() -> None:
        engine = create_engine(settings_for(metadata_url), pool_size=1, max_overflow=0)
        try:
            async with tenant_session(engine, context) as session:
                await session.execute(text("SET LOCAL lock_timeout = '5s'"))
                await IngestionService(session, context).store(
                    [parse_snapshot(later.model_dump_json().encode())]
                )
        finally:
            await engine.dispose()

    with psycopg.connect(metadata_url) as holder:
        for series in ("statement_rollups", "statement_daily_rollups"):
            holder.execute(f"LOCK TABLE {series}_p{yesterday:%Y%m%d} IN ACCESS EXCLUSIVE MODE")
        asyncio.run(store())

    hourly, daily = expected_rollups(metadata_url, database["id"])
    assert stored_rollups(metadata_url, database["id"], "statement_rollups") == hourly
    assert stored_rollups(metadata_url, database["id"], "statement_daily_rollups") == daily
    assert {samples for (_, bucket), (samples, *_) in hourly.items() if bucket == hour} == {2}


def test_a_statements_latest_plan_is_kept_and_an_older_one_sent_later_never_replaces_it(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    agent = bearer(register_database(client, acme)["agent_token"])

    def with_plan(at: datetime, cost: float) -> Snapshot:
        snapshot = make_snapshot(2, collected_at=at)
        plan = snapshot.plans[0].model_copy(
            update={"total_cost": cost, "plan": {"Node Type": f"Scan {cost}"}}
        )
        return snapshot.model_copy(update={"plans": [plan]})

    def stored_plan() -> tuple[datetime, float, dict[str, str]] | None:
        with psycopg.connect(metadata_url) as conn:
            return conn.execute("SELECT collected_at, total_cost, plan FROM plans").fetchone()  # type: ignore[return-value]

    # In one batch, the latest of three whatever their order; then an older one alone.
    for at, cost in ((COLLECTED[1], 1.0), (COLLECTED[3], 3.0), (COLLECTED[2], 2.0)):
        assert client.post(SNAPSHOTS, json=as_json(with_plan(at, cost)), headers=agent).status_code == 202
    assert store_one_batch(client, acme) == 3
    assert stored_plan() == (COLLECTED[3], 3.0, {"Node Type": "Scan 3.0"})
    assert (
        client.post(SNAPSHOTS, json=as_json(with_plan(COLLECTED[0], 0.5)), headers=agent).status_code == 202
    )
    assert store_one_batch(client, acme) == 1
    assert stored_plan() == (COLLECTED[3], 3.0, {"Node Type": "Scan 3.0"})
    assert (
        client.post(SNAPSHOTS, json=as_json(with_plan(COLLECTED[4], 4.0)), headers=agent).status_code == 202
    )
    assert store_one_batch(client, acme) == 1
    assert stored_plan() == (COLLECTED[4], 4.0, {"Node Type": "Scan 4.0"})


def test_a_batch_claims_its_new_snapshots_and_says_which_were_stored_before_or_repeated(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    database = register_database(client, acme)
    agent = bearer(database["agent_token"])
    stored_before, new = (make_snapshot(2, collected_at=at) for at in COLLECTED[:2])
    assert client.post(SNAPSHOTS, json=as_json(stored_before), headers=agent).status_code == 202
    assert drain_inbox(client) == 1
    context = TenantContext(tenant_id=acme.id, principal="agent", database_id=uuid.UUID(database["id"]))

    async def store() -> list[bool]:
        engine = create_engine(settings_for(metadata_url), pool_size=1, max_overflow=0)
        try:
            async with tenant_session(engine, context) as session:
                batch = [parse_snapshot(s.model_dump_json().encode()) for s in (stored_before, new, new)]
                return await IngestionService(session, context).store(batch)
        finally:
            await engine.dispose()

    assert asyncio.run(store()) == [False, True, False]
    with psycopg.connect(metadata_url) as conn:
        rows = conn.execute(
            "SELECT snapshot_id, statement_count, interval_kind, server->>'version' FROM snapshots"
            " WHERE database_id = %s ORDER BY collected_at",
            (database["id"],),
        ).fetchall()
        raw = conn.execute("SELECT count(*) FROM statement_stats WHERE database_id = %s", (database["id"],))
        assert raw.fetchone() == (4,)  # 2 statements each, the repeat not again
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        (s.snapshot_id, 2, s.interval.kind, s.server.version) for s in (stored_before, new)
    ]
