"""The snapshot inbox: accepted with 202, stored by workers exactly once, whatever they race or lose.

Bodies go in through HTTP (an in-process app); the workers are `store_inbox`, the code the
background jobs run, each on an engine of its own as separate processes would be.
"""

from __future__ import annotations

import asyncio
import uuid

import psycopg
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.db.engine import create_engine
from control_plane.db.session import tenant_session
from control_plane.ingestion.inbox import SnapshotInbox
from control_plane.ingestion.inbox_worker import store_inbox
from control_plane.settings import Settings
from control_plane.tenancy.context import TenantContext
from tests.integration.control_plane.api.conftest import SeededTenant, bearer, register_database, settings_for
from tests.integration.control_plane.api.snapshots import as_json, make_snapshot
from tests.integration.control_plane.inbox import drain_inbox

SNAPSHOTS = "/api/v1/agent/snapshots"


def counts(metadata_url: str) -> tuple[int, int]:
    """(snapshots stored, entries in the inbox), read as the superuser, past row-level security."""
    with psycopg.connect(metadata_url, autocommit=True) as conn:
        stored = conn.execute("SELECT count(*) FROM snapshots").fetchone()
        waiting = conn.execute("SELECT count(*) FROM snapshot_inbox").fetchone()
    assert stored and waiting
    return int(stored[0]), int(waiting[0])


def send(client: TestClient, agent: dict[str, str], snapshots: int) -> None:
    for _ in range(snapshots):
        response = client.post(SNAPSHOTS, json=as_json(make_snapshot(statements=2)), headers=agent)
        assert response.status_code == 202, response.text


async def with_engines(settings: Settings, count: int) -> list[AsyncEngine]:
    return [create_engine(settings, pool_size=1, max_overflow=1) for _ in range(count)]


def test_a_snapshot_is_accepted_with_202_and_stored_by_a_worker(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    agent = bearer(register_database(client, acme)["agent_token"])
    body = as_json(make_snapshot(statements=3))

    accepted = client.post(SNAPSHOTS, json=body, headers=agent)
    waiting = counts(metadata_url)
    resent = client.post(SNAPSHOTS, json=body, headers=agent)  # still in the inbox: a duplicate
    taken = drain_inbox(client)

    assert accepted.status_code == 202
    assert accepted.json() == {
        "snapshot_id": body["snapshot_id"],
        "accepted": True,
        "stored": False,
        "duplicate": False,
    }
    assert waiting == (0, 1)
    assert resent.status_code == 200 and resent.json()["duplicate"]
    assert taken == 1
    assert counts(metadata_url) == (1, 0)
    assert client.post(SNAPSHOTS, json=body, headers=agent).status_code == 200  # stored: still one
    assert drain_inbox(client) == 0 and counts(metadata_url) == (1, 0)


def test_two_workers_racing_over_20_entries_store_each_exactly_once(
    client: TestClient, acme: SeededTenant, globex: SeededTenant, metadata_url: str
) -> None:
    send(client, bearer(register_database(client, acme)["agent_token"]), 12)
    send(client, bearer(register_database(client, globex)["agent_token"]), 8)
    settings = settings_for(metadata_url)

    async def race() -> list[int]:
        engines = await with_engines(settings, 2)
        try:
            return list(await asyncio.gather(*(store_inbox(engine, settings) for engine in engines)))
        finally:
            for engine in engines:
                await engine.dispose()

    taken = asyncio.run(race())

    assert sum(taken) == 20  # a body taken twice would count twice here, and be refused as a duplicate
    assert counts(metadata_url) == (20, 0)
    with psycopg.connect(metadata_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM statement_stats").fetchone() == (40,)


def test_an_entry_held_by_a_worker_that_dies_is_stored_by_another(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    send(client, bearer(register_database(client, acme)["agent_token"]), 1)
    settings = settings_for(metadata_url)
    context = TenantContext(tenant_id=acme.id, principal="system")

    async def die_holding_it() -> tuple[int, int]:
        dying, other = await with_engines(settings, 2)
        try:
            try:
                async with tenant_session(dying, context) as session:
                    assert await SnapshotInbox(session, context).claim() is not None
                    skipped = await store_inbox(other, settings)  # locked: skipped, not waited for
                    backend = await session.scalar(text("SELECT pg_backend_pid()"))
                    with psycopg.connect(metadata_url, autocommit=True) as admin:
                        admin.execute("SELECT pg_terminate_backend(%s)", (backend,))  # as a SIGKILL would
                    await session.execute(text("SELECT 1"))
            except Exception:  # the killed connection: expected
                pass
            return skipped, await store_inbox(other, settings)
        finally:
            await dying.dispose()
            await other.dispose()

    skipped, taken = asyncio.run(die_holding_it())

    assert (skipped, taken) == (0, 1)
    assert counts(metadata_url) == (1, 0)


def test_a_rolled_back_claim_leaves_the_entry_claimable(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    send(client, bearer(register_database(client, acme)["agent_token"]), 1)
    settings = settings_for(metadata_url)
    context = TenantContext(tenant_id=acme.id, principal="system")

    class RolledBack(Exception):
        pass

    async def roll_back_then_store() -> int:
        (engine,) = await with_engines(settings, 1)
        try:
            try:
                async with tenant_session(engine, context) as session:
                    inbox = SnapshotInbox(session, context)
                    entry = await inbox.claim()
                    assert entry is not None
                    await inbox.delete(entry)
                    raise RolledBack
            except RolledBack:
                pass
            return await store_inbox(engine, settings)
        finally:
            await engine.dispose()

    assert asyncio.run(roll_back_then_store()) == 1
    assert counts(metadata_url) == (1, 0)


def test_a_body_that_fails_to_store_waits_with_its_error_and_holds_up_nothing(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    database = register_database(client, acme)
    with psycopg.connect(metadata_url, autocommit=True) as conn:  # what no endpoint would accept
        conn.execute(
            "INSERT INTO snapshot_inbox (tenant_id, database_id, snapshot_id, body) VALUES (%s, %s, %s, %s)",
            [acme.id, database["id"], uuid.uuid4(), b"not a snapshot"],
        )
    send(client, bearer(database["agent_token"]), 1)

    taken = drain_inbox(client)

    assert taken == 2
    assert counts(metadata_url) == (1, 1)
    with psycopg.connect(metadata_url, autocommit=True) as conn:
        row = conn.execute("SELECT attempts, last_error, not_before > now() FROM snapshot_inbox").fetchone()
    assert row is not None and row[0] == 1 and "body is not JSON" in row[1] and row[2]


def test_a_tenants_worker_transaction_never_claims_another_tenants_entry(
    client: TestClient, acme: SeededTenant, globex: SeededTenant, metadata_url: str
) -> None:
    register_database(client, globex)
    send(client, bearer(register_database(client, acme)["agent_token"]), 1)
    settings = settings_for(metadata_url)
    context = TenantContext(tenant_id=globex.id, principal="system")

    async def claim_as_globex() -> object:
        (engine,) = await with_engines(settings, 1)
        try:
            async with tenant_session(engine, context) as session:
                return await SnapshotInbox(session, context).claim()
        finally:
            await engine.dispose()

    assert asyncio.run(claim_as_globex()) is None
    assert counts(metadata_url) == (0, 1)
