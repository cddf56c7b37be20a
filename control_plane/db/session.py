"""Transactions scoped to a tenant in PostgreSQL itself: the runtime role and `app.tenant_id`.

Every transaction the application opens starts with

    SELECT set_config('role', 'optischema_app', true),       -- SET LOCAL ROLE
           set_config('app.tenant_id', '<tenant uuid>', true);  -- '' in a lookup session

one statement, not two: a round trip fewer for every request and for each of the three
transactions a worker opens per snapshot it stores. Both are transaction-local on purpose: a plain
SET would survive COMMIT and travel through the pool to whichever request borrows the connection
next. `optischema_app` is subject to row-level security (it is neither superuser nor BYPASSRLS and
owns nothing), so a query that forgets its tenant filter still only sees the current tenant's rows.

The scoping runs from the session's `after_begin` event, i.e. on the connection, right before the
transaction's first statement, and the session is held inside `session.begin()`: a stray
`session.commit()` makes SQLAlchemy refuse any further statement in the block, so nothing ever runs
as the login role, which owns the tables.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from sqlalchemy import Connection, event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from control_plane.db.availability import as_unavailable
from control_plane.tenancy.context import TenantContext

APP_ROLE = "optischema_app"
TENANT_SETTING = "app.tenant_id"

# SQLSTATEs the application meets from the metadata database.
UNIQUE_VIOLATION = "23505"  # e.g. optischema_register_login_email: the email belongs to someone
FOREIGN_KEY_VIOLATION = "23503"  # e.g. registering an email for a user the tenant does not have
CHECK_VIOLATION = "23514"  # also: a statement_stats row whose day has no partition yet
NUMERIC_VALUE_OUT_OF_RANGE = "22003"  # e.g. a bigint sum past 9.2e18 (db.counter_sums)
INSUFFICIENT_PRIVILEGE = "42501"  # also: a row-level security WITH CHECK failure, or no tenant bound
INVALID_PARAMETER_VALUE = "22023"  # a definer function refused its arguments

_SET_TENANT = text(f"SELECT set_config('{TENANT_SETTING}', :tenant, true)")
# set_config('role', ...) is SET LOCAL ROLE (the same membership check, undone at the end of the
# transaction), and the target list runs left to right.
_SCOPE = text(f"SELECT set_config('role', '{APP_ROLE}', true), set_config('{TENANT_SETTING}', :tenant, true)")


def _scope_transaction(
    session: Session, transaction: SessionTransaction, connection: Connection, *, tenant: str
) -> None:
    if transaction.nested:
        return  # a SAVEPOINT lives inside an already scoped transaction
    connection.execute(_SCOPE, {"tenant": tenant})


@asynccontextmanager
async def _scoped_session(engine: AsyncEngine, tenant: str) -> AsyncIterator[AsyncSession]:
    session = AsyncSession(engine, expire_on_commit=False)
    event.listen(session.sync_session, "after_begin", partial(_scope_transaction, tenant=tenant))
    try:
        async with session, session.begin():
            yield session
    except Exception as error:
        # Connect refused, connection lost mid-request or at COMMIT, pool exhausted: one exception
        # for the app to answer 503 and for workers to retry (see control_plane.db.availability).
        unavailable = as_unavailable(error)
        if unavailable is None or unavailable is error:
            raise
        raise unavailable from error


@asynccontextmanager
async def tenant_session(engine: AsyncEngine, context: TenantContext) -> AsyncIterator[AsyncSession]:
    """One transaction for `context.tenant_id`: committed when the block ends, rolled back if it raises.

    The caller (a request dependency, a job) owns the transaction; repositories and services only
    flush, and use `session.begin_nested()` when they need to survive an expected error.
    """
    async with _scoped_session(engine, str(context.tenant_id)) as session:
        yield session


@asynccontextmanager
async def lookup_session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A transaction with no tenant (sign-in, token lookups, signup, partition upkeep).

    Row-level security hides every tenant row here; only the SECURITY DEFINER functions
    (`optischema_login_lookup`, `optischema_create_tenant`, ...) reach any data.
    """
    async with _scoped_session(engine, "") as session:
        yield session


async def bind_new_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Turns a lookup transaction into one for the tenant it has just created, so that signup
    (tenant, first admin, login email, audit) commits or fails as a whole.

    Refuses a transaction that already acts for a tenant: switching tenants mid-transaction is
    never legitimate.
    """
    current = await session.scalar(text(f"SELECT current_setting('{TENANT_SETTING}', true)"))
    if current:
        raise RuntimeError("this transaction already acts for a tenant")
    await session.execute(_SET_TENANT, {"tenant": str(tenant_id)})


def sqlstate(error: BaseException) -> str | None:
    """The PostgreSQL SQLSTATE behind a SQLAlchemy (asyncpg or psycopg) error, if there is one."""
    original: Any = getattr(error, "orig", None) or error
    code = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    return code if isinstance(code, str) else None


# COPY data goes to asyncpg in slices of this size, each sent once the connection has drained the
# one before (asyncpg's flow control). A file-like source (io.BytesIO, as until 2026-12-06) is read
# in 512 kB pieces on a thread of the default executor, a hand-over and a copy each; the whole data as
# one message is copied whole into the socket transport's buffer, which then moves what is left to
# its front after every partial send. A batch of 8 snapshots (8.5 MB) cost the worker 7-10 ms of CPU
# as a BytesIO, 3.4-4.9 ms in slices of 256 kB or 1 MB (PostgreSQL's side unchanged, ~40 ms).
COPY_SLICE_BYTES = 256 * 1024


async def _slices(data: bytes) -> AsyncIterator[memoryview]:
    view = memoryview(data)
    for start in range(0, len(view), COPY_SLICE_BYTES):
        yield view[start : start + COPY_SLICE_BYTES]


async def copy_binary(session: AsyncSession, table: str, data: bytes) -> None:
    """`COPY table FROM STDIN (FORMAT binary)` of `data`, in the session's transaction (asyncpg's
    own COPY: SQLAlchemy has none)."""
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None, "a checked-out connection has its driver's"
    await driver.copy_to_table(table, source=_slices(data), format="binary")
