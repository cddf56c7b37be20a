"""The statement time series' daily partitions: created and dropped by the definer functions, and
tenant-tight both through the parent and (should a grant ever appear) directly.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from sqlalchemy import TextClause, insert, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.db.session import (
    INSUFFICIENT_PRIVILEGE,
    INVALID_PARAMETER_VALUE,
    lookup_session,
    sqlstate,
    tenant_session,
)
from control_plane.models import StatementStat
from control_plane.tenancy.context import TenantContext
from tests.integration.control_plane.conftest import create_tenant_with_admin

ENSURE = text("SELECT optischema_ensure_statement_stats_partitions(:day, :days)")
DROP = text("SELECT optischema_drop_statement_stats_partitions(:before)")
ZEROS = {
    column.name: 0
    for column in StatementStat.__table__.columns
    if not column.primary_key and not column.nullable and column.name != "snapshot_id"
}


def partitions(metadata_url: str) -> list[str]:
    with psycopg.connect(metadata_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'statement_stats'::regclass ORDER BY 1"
        ).fetchall()
    return [row[0] for row in rows]


def stat(tenant_id: uuid.UUID, at: datetime) -> dict[str, object]:
    return {
        "tenant_id": tenant_id,
        "database_id": uuid.uuid4(),
        "fingerprint": "f" * 16,
        "collected_at": at,
        "snapshot_id": uuid.uuid4(),
        **ZEROS,
    }


@pytest.mark.asyncio
async def test_daily_partitions_are_created_and_dropped(
    metadata_engine: AsyncEngine, metadata_url: str
) -> None:
    async with lookup_session(metadata_engine) as session:
        # Days are UTC days, whatever the time zone of the session that creates them.
        await session.execute(text("SET LOCAL TimeZone = 'Pacific/Auckland'"))
        assert await session.scalar(ENSURE, {"day": date(2020, 1, 1), "days": 3}) == 3
        assert await session.scalar(ENSURE, {"day": date(2020, 1, 3), "days": 2}) == 1  # only the 4th is new
    assert partitions(metadata_url) == [f"statement_stats_p2020010{day}" for day in (1, 2, 3, 4)]

    acme = await create_tenant_with_admin(metadata_engine, "acme")
    context = TenantContext(tenant_id=acme.tenant_id, principal="agent")
    last_instant = datetime(2020, 1, 1, 23, 59, 59, 999999, tzinfo=UTC)
    async with tenant_session(metadata_engine, context) as session:
        await session.execute(insert(StatementStat), [stat(acme.tenant_id, last_instant)])
        placed = await session.scalar(text("SELECT tableoid::regclass::text FROM statement_stats"))
    assert placed == "statement_stats_p20200101"

    async with lookup_session(metadata_engine) as session:
        assert await session.scalar(DROP, {"before": date(2020, 1, 3)}) == 2
        assert await session.scalar(DROP, {"before": date(2020, 1, 3)}) == 0
    assert partitions(metadata_url) == ["statement_stats_p20200103", "statement_stats_p20200104"]


@pytest.mark.asyncio
async def test_the_partition_functions_refuse_dangerous_arguments(metadata_engine: AsyncEngine) -> None:
    today = datetime.now(UTC).date()
    refused: list[tuple[TextClause, dict[str, object]]] = [
        (DROP, {"before": today}),  # would drop the days being written and shown
        (ENSURE, {"day": today, "days": 0}),
        (ENSURE, {"day": today + timedelta(days=365), "days": 1}),  # a clock gone wrong, or a flood of tables
    ]
    for statement, parameters in refused:
        with pytest.raises(DBAPIError) as caught:
            async with lookup_session(metadata_engine) as session:
                await session.execute(statement, parameters)
        assert sqlstate(caught.value) == INVALID_PARAMETER_VALUE, parameters


@pytest.mark.asyncio
async def test_a_partition_shows_no_other_tenants_rows(
    metadata_engine: AsyncEngine, metadata_url: str
) -> None:
    acme = await create_tenant_with_admin(metadata_engine, "acme")
    globex = await create_tenant_with_admin(metadata_engine, "globex")
    at = datetime(2020, 1, 1, 12, tzinfo=UTC)
    for tenant in (acme, globex):
        context = TenantContext(tenant_id=tenant.tenant_id, principal="agent")
        async with tenant_session(metadata_engine, context) as session:
            await session.execute(ENSURE, {"day": at.date(), "days": 1})  # what ingestion does first
            await session.execute(insert(StatementStat), [stat(tenant.tenant_id, at)])
    acme_context = TenantContext(tenant_id=acme.tenant_id, principal="user")
    read_partition = text("SELECT tenant_id FROM statement_stats_p20200101")

    async with tenant_session(metadata_engine, acme_context) as session:
        through_parent = (
            (await session.execute(text("SELECT tenant_id FROM statement_stats"))).scalars().all()
        )
    assert through_parent == [acme.tenant_id]
    with pytest.raises(DBAPIError) as caught:
        async with tenant_session(metadata_engine, acme_context) as session:
            await session.execute(read_partition)
    assert sqlstate(caught.value) == INSUFFICIENT_PRIVILEGE  # no grant on partitions at all

    # Should someone grant it anyway, the partition's own forced policy still filters.
    with psycopg.connect(metadata_url, autocommit=True) as conn:
        conn.execute("GRANT SELECT ON statement_stats_p20200101 TO optischema_app")
        owner, forced = conn.execute(
            "SELECT relowner::regrole::text, relforcerowsecurity FROM pg_class WHERE relname = 'statement_stats_p20200101'"
        ).fetchone() or (None, None)
    assert owner != "optischema_app"
    assert forced is True
    async with tenant_session(metadata_engine, acme_context) as session:
        direct = (await session.execute(read_partition)).scalars().all()
    assert direct == [acme.tenant_id]
