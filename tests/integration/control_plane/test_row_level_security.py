"""Tenancy enforced by PostgreSQL: catalog facts, then what `optischema_app` can and cannot see or do."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError, InvalidRequestError
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.audit.repository import AuditRepository
from control_plane.db.engine import engine_from_url
from control_plane.db.session import (
    FOREIGN_KEY_VIOLATION,
    INSUFFICIENT_PRIVILEGE,
    INVALID_PARAMETER_VALUE,
    UNIQUE_VIOLATION,
    lookup_session,
    sqlstate,
    tenant_session,
)
from control_plane.tenancy.context import TenantContext
from control_plane.tenants.repository import ProvisionedTenant
from tests.integration.control_plane.conftest import create_tenant_with_admin

# The migrations and every policy, on Debian's PostgreSQL and on PostgreSQL 18 (tests/conftest.py).
pytestmark = pytest.mark.both_servers

TENANT_TABLES = {
    "users",
    "login_emails",
    "refresh_tokens",
    "monitored_databases",
    "agent_tokens",
    "snapshots",
    "snapshot_inbox",
    "statements",
    "statement_stats",
    "statement_rollups",
    "statement_daily_rollups",
    "statement_daily_folds",
    "statement_running_totals",
    "statement_running_total_state",
    "plans",
    "database_schemas",
    "audit_events",
    "agent_jobs",
    "recommendations",
    "analysis_runs",
    "analysis_watches",
    "analysis_suggestions",
    "analysed_statements",
    "llm_answers",
    "llm_token_usage",
    "tenant_llm_settings",
    "webhooks",
    "webhook_deliveries",
    "live_tickets",
}
ALL_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")


def as_user(tenant: ProvisionedTenant) -> TenantContext:
    return TenantContext(tenant_id=tenant.tenant_id, principal="user", user_id=tenant.user_id, role="admin")


def catalog(metadata_url: str, query: str) -> list[tuple[object, ...]]:
    with psycopg.connect(metadata_url, autocommit=True) as conn:
        return conn.execute(query.encode()).fetchall()


def test_every_tenant_table_forces_row_level_security(metadata_url: str) -> None:
    catalog(metadata_url, "SELECT optischema_ensure_statement_stats_partitions('2020-01-01', 2)")
    rows = catalog(
        metadata_url,
        """
        SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
               EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'tenant_isolation')
          FROM pg_class c
         WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
           AND (c.relname = 'tenants' OR EXISTS (
                SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped))
        """,
    )
    names = {row[0] for row in rows}
    partitions = {
        f"{series}_p2020010{day}"
        for series in ("statement_stats", "statement_rollups", "statement_daily_rollups")
        for day in (1, 2)
    }
    assert names == {*TENANT_TABLES, "tenants", *partitions}
    assert [row for row in rows if row[1:] != (True, True, True)] == []


def test_every_policy_reads_the_tenant_once_per_statement_new_partitions_too(metadata_url: str) -> None:
    # As a scalar subquery the tenant is an InitPlan, read once; bare, it was read for every row
    # checked (migration 0020). Partitions made after the migration get the same policy.
    catalog(metadata_url, "SELECT optischema_ensure_statement_stats_partitions('2020-02-01', 1)")
    policies = catalog(
        metadata_url,
        "SELECT tablename, qual, with_check FROM pg_policies WHERE policyname = 'tenant_isolation'",
    )
    tables = {table for table, _, _ in policies}
    assert {"statement_stats_p20200201", "statement_rollups_p20200201", "snapshots", "tenants"} <= tables
    once = "= ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid"
    assert [table for table, qual, check in policies if once not in str(qual) or qual != check] == []


def test_runtime_roles_are_unprivileged(metadata_url: str) -> None:
    roles = catalog(
        metadata_url,
        "SELECT rolname, rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname LIKE 'optischema%'",
    )
    assert sorted(roles) == [
        ("optischema_app", False, False, False),
        ("optischema_lookup", False, False, False),
    ]
    assert (
        catalog(metadata_url, "SELECT relname FROM pg_class WHERE relowner = 'optischema_app'::regrole") == []
    )
    assert (
        catalog(
            metadata_url,
            "SELECT relname FROM pg_class WHERE relowner = 'optischema_lookup'::regrole",
        )
        == []
    )

    def allowed(table: str) -> set[str]:
        checks = ", ".join(f"has_table_privilege('optischema_app', '{table}', '{p}')" for p in ALL_PRIVILEGES)
        (row,) = catalog(metadata_url, f"SELECT {checks}")
        return {privilege for privilege, granted in zip(ALL_PRIVILEGES, row, strict=True) if granted}

    assert allowed("audit_events") == {"SELECT", "INSERT"}
    assert allowed("login_emails") == set()
    assert catalog(
        metadata_url, "SELECT has_any_column_privilege('optischema_app', 'login_emails', 'SELECT')"
    ) == [(False,)]
    assert allowed("users") == {"SELECT", "INSERT", "UPDATE", "DELETE"}
    assert allowed("tenants") == {"SELECT", "UPDATE"}


@pytest.mark.asyncio
async def test_an_unscoped_select_sees_only_the_callers_tenant(metadata_engine: AsyncEngine) -> None:
    acme = await create_tenant_with_admin(metadata_engine, "acme")
    globex = await create_tenant_with_admin(metadata_engine, "globex")
    async with tenant_session(metadata_engine, as_user(acme)) as session:
        users = (await session.execute(text("SELECT tenant_id, id FROM users"))).all()
        tenants = (await session.execute(text("SELECT id FROM tenants"))).scalars().all()
        who = await session.scalar(text("SELECT current_user"))
    assert users == [(acme.tenant_id, acme.user_id)]
    assert tenants == [acme.tenant_id]
    assert who == "optischema_app"
    async with lookup_session(metadata_engine) as session:  # no tenant: no rows at all
        assert (await session.execute(text("SELECT id FROM users"))).all() == []
    assert globex.tenant_id != acme.tenant_id


@pytest.mark.asyncio
async def test_writing_another_tenants_rows_is_refused(metadata_engine: AsyncEngine) -> None:
    acme = await create_tenant_with_admin(metadata_engine, "acme")
    globex = await create_tenant_with_admin(metadata_engine, "globex")
    with pytest.raises(DBAPIError) as caught:
        async with tenant_session(metadata_engine, as_user(acme)) as session:
            await session.execute(
                text(
                    "INSERT INTO users (tenant_id, id, email, password_hash, role) VALUES (:t, :i, 'x@y', 'h', 'admin')"
                ),
                {"t": globex.tenant_id, "i": uuid.uuid4()},
            )
    assert sqlstate(caught.value) == INSUFFICIENT_PRIVILEGE  # new row violates row-level security policy
    async with tenant_session(metadata_engine, as_user(acme)) as session:
        changed = await session.execute(
            text("UPDATE users SET role = 'viewer' WHERE tenant_id = :t"), {"t": globex.tenant_id}
        )
        assert changed.rowcount == 0  # type: ignore[attr-defined]
        with pytest.raises(DBAPIError) as caught:
            async with session.begin_nested():
                await session.execute(text("UPDATE users SET tenant_id = :t"), {"t": globex.tenant_id})
        assert sqlstate(caught.value) == INSUFFICIENT_PRIVILEGE
    for statement in ("UPDATE audit_events SET action = 'forged'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError) as caught:
            async with tenant_session(metadata_engine, as_user(acme)) as session:
                await session.execute(text(statement))
        assert sqlstate(caught.value) == INSUFFICIENT_PRIVILEGE, statement


@pytest.mark.asyncio
async def test_the_transaction_commits_or_rolls_back_as_a_whole(metadata_engine: AsyncEngine) -> None:
    acme = await create_tenant_with_admin(metadata_engine, "acme")
    context = as_user(acme)
    with pytest.raises(RuntimeError):
        async with tenant_session(metadata_engine, context) as session:
            await AuditRepository(session, context).record("tests", "doomed", "nothing")
            raise RuntimeError("the request failed")
    async with tenant_session(metadata_engine, context) as session:
        await AuditRepository(session, context).record("tests", "kept", "nothing")
        # A service that commits anyway: what follows is refused, rather than run unscoped as the owner.
        await session.commit()
        with pytest.raises(InvalidRequestError):
            await session.scalar(text("SELECT current_user"))
    async with tenant_session(metadata_engine, context) as session:
        actions = [event.action for event in await AuditRepository(session, context).list()]
    assert "kept" in actions
    assert "doomed" not in actions


@pytest.mark.asyncio
async def test_a_pooled_connection_keeps_no_tenant_or_role(metadata_url: str) -> None:
    engine = engine_from_url(metadata_url, pool_size=1, max_overflow=0)
    try:
        acme = await create_tenant_with_admin(engine, "acme")
        async with tenant_session(engine, as_user(acme)) as session:
            scoped_pid = await session.scalar(text("SELECT pg_backend_pid()"))
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    text("SELECT pg_backend_pid(), current_setting('app.tenant_id', true), current_user")
                )
            ).one()
    finally:
        await engine.dispose()
    assert row[0] == scoped_pid  # the very same connection, back from the pool
    assert row[1] in ("", None)
    assert row[2] == "postgres"


@pytest.mark.asyncio
async def test_sign_in_lookups_cross_tenants_only_through_the_functions(metadata_engine: AsyncEngine) -> None:
    acme = await create_tenant_with_admin(metadata_engine, "acme")
    globex = await create_tenant_with_admin(metadata_engine, "globex", email="Boss@Globex.example")
    async with lookup_session(metadata_engine) as session:
        found = (
            await session.execute(
                text("SELECT tenant_id, user_id, role, disabled_at FROM optischema_login_lookup(:e)"),
                {"e": "BOSS@globex.example"},
            )
        ).all()
        assert (await session.execute(text("SELECT * FROM optischema_login_lookup('nobody@x')"))).all() == []
    assert found == [(globex.tenant_id, globex.user_id, "admin", None)]
    for opened in (lookup_session(metadata_engine), tenant_session(metadata_engine, as_user(acme))):
        with pytest.raises(DBAPIError) as caught:
            async with opened as session:
                await session.execute(text("SELECT email FROM login_emails"))
        assert sqlstate(caught.value) == INSUFFICIENT_PRIVILEGE


@pytest.mark.asyncio
async def test_login_emails_are_registered_for_the_transactions_tenant_only(
    metadata_engine: AsyncEngine,
) -> None:
    acme = await create_tenant_with_admin(metadata_engine, "acme")
    globex = await create_tenant_with_admin(metadata_engine, "globex")
    register = text("SELECT optischema_register_login_email(:e, :u)")
    cases = [
        (tenant_session(metadata_engine, as_user(acme)), {"e": "new@x.example", "u": globex.user_id}, FOREIGN_KEY_VIOLATION),
        (tenant_session(metadata_engine, as_user(acme)), {"e": "ADMIN@globex.example", "u": acme.user_id}, UNIQUE_VIOLATION),
        (lookup_session(metadata_engine), {"e": "new@x.example", "u": acme.user_id}, INSUFFICIENT_PRIVILEGE),
    ]  # fmt: skip
    for opened, parameters, expected in cases:
        with pytest.raises(DBAPIError) as caught:
            async with opened as session:
                await session.execute(register, parameters)
        assert sqlstate(caught.value) == expected, parameters
    with pytest.raises(IntegrityError):  # what services catch for "this email is taken"
        async with tenant_session(metadata_engine, as_user(acme)) as session:
            await session.execute(register, {"e": "admin@globex.example", "u": acme.user_id})
    async with tenant_session(metadata_engine, as_user(globex)) as session:
        assert (
            await session.scalar(text("SELECT optischema_forget_login_email(:u)"), {"u": globex.user_id}) == 1
        )
    async with lookup_session(metadata_engine) as session:
        gone = (
            await session.execute(text("SELECT * FROM optischema_login_lookup('admin@globex.example')"))
        ).all()
    assert gone == []


@pytest.mark.asyncio
async def test_token_lookups_find_the_tenant_of_a_token(metadata_engine: AsyncEngine) -> None:
    acme = await create_tenant_with_admin(metadata_engine, "acme")
    database_id, agent_token_id, refresh_id, family_id = (uuid.uuid4() for _ in range(4))
    async with tenant_session(metadata_engine, as_user(acme)) as session:
        parameters = {
            "t": acme.tenant_id,
            "d": database_id,
            "a": agent_token_id,
            "r": refresh_id,
            "f": family_id,
        }
        parameters["u"] = acme.user_id
        await session.execute(
            text("INSERT INTO monitored_databases (tenant_id, id, name) VALUES (:t, :d, 'shop')"), parameters
        )
        await session.execute(
            text(
                "INSERT INTO agent_tokens (tenant_id, id, database_id, token_hmac) VALUES (:t, :a, :d, '\\x0a'::bytea)"
            ),
            parameters,
        )
        await session.execute(
            text(
                "INSERT INTO refresh_tokens (tenant_id, id, user_id, family_id, token_hmac, expires_at) "
                "VALUES (:t, :r, :u, :f, '\\x0b'::bytea, now() + interval '1 day')"
            ),
            parameters,
        )  # fmt: skip
    async with lookup_session(metadata_engine) as session:
        agent = (
            await session.execute(text("SELECT * FROM optischema_agent_token_lookup(:h)"), {"h": b"\n"})
        ).all()
        refresh = (
            await session.execute(
                text("SELECT tenant_id, id, user_id, family_id FROM optischema_refresh_token_lookup(:h)"),
                {"h": b"\x0b"},
            )
        ).all()
        unknown = (
            await session.execute(text("SELECT * FROM optischema_agent_token_lookup(:h)"), {"h": b"?"})
        ).all()
        direct = (await session.execute(text("SELECT id FROM agent_tokens"))).all()
    assert agent == [(acme.tenant_id, database_id, agent_token_id, None)]
    assert refresh == [(acme.tenant_id, refresh_id, acme.user_id, family_id)]
    assert unknown == []
    assert direct == []


@pytest.mark.asyncio
async def test_tenants_are_created_only_through_the_function(metadata_engine: AsyncEngine) -> None:
    with pytest.raises(DBAPIError) as caught:
        async with lookup_session(metadata_engine) as session:
            await session.execute(text("INSERT INTO tenants (id, name) VALUES (gen_random_uuid(), 'sneaky')"))
    assert sqlstate(caught.value) == INSUFFICIENT_PRIVILEGE
    with pytest.raises(DBAPIError) as caught:
        async with lookup_session(metadata_engine) as session:
            await session.execute(text("SELECT optischema_create_tenant('   ')"))
    assert sqlstate(caught.value) == INVALID_PARAMETER_VALUE
