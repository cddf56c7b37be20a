"""The row-level security suite's checks of what `optischema_app` can see and do, run again through a
real PgBouncer in transaction mode (see test_pgbouncer.py): each check gets a database of its own,
cloned from the migrated one on a cluster this module starts, and reaches it only through PgBouncer,
as the app's login role, with OPTISCHEMA_METADATA_STATEMENT_CACHE=false.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import psycopg
import pytest
import pytest_asyncio
from psycopg import sql
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.db.engine import engine_from_url
from tests.conftest import unique_name
from tests.integration.control_plane.own_metadata import METADATA_DATABASE, Bounced, bounced_metadata_cluster

# Collected here again, with this module's `metadata_engine`: the checks themselves stay in one place.
from tests.integration.control_plane.test_row_level_security import (  # noqa: F401
    test_an_unscoped_select_sees_only_the_callers_tenant,
    test_login_emails_are_registered_for_the_transactions_tenant_only,
    test_sign_in_lookups_cross_tenants_only_through_the_functions,
    test_tenants_are_created_only_through_the_function,
    test_the_transaction_commits_or_rolls_back_as_a_whole,
    test_token_lookups_find_the_tenant_of_a_token,
    test_writing_another_tenants_rows_is_refused,
)


@pytest.fixture(scope="module")
def bounced() -> Iterator[Bounced]:
    with bounced_metadata_cluster() as found:
        with psycopg.connect(found.metadata.url, autocommit=True) as conn:  # a template for the clones
            conn.execute(
                sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE true").format(sql.Identifier(METADATA_DATABASE))
            )
        yield found


@pytest_asyncio.fixture
async def metadata_engine(bounced: Bounced) -> AsyncIterator[AsyncEngine]:
    name = unique_name("metadata")
    with psycopg.connect(bounced.metadata.url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(METADATA_DATABASE)
            )
        )
    engine = engine_from_url(bounced.app_url(name), pool_size=4, statement_cache=False)
    try:
        yield engine
    finally:
        await engine.dispose()
