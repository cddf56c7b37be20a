"""`optischema-admin`, run as the installed console script exactly as an operator would."""

from __future__ import annotations

import json
import subprocess

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, pool

from control_plane.auth.passwords import verify_password
from control_plane.db.engine import sync_database_url
from control_plane.models import Base
from deploy.local.throwaway_cluster import ThrowawayCluster
from migrations.runner import current_revision, head_revision
from tests.integration.control_plane.conftest import run_admin

PASSWORD = "an admin password, long enough"


def create_tenant(url: str, name: str, email: str) -> subprocess.CompletedProcess[str]:
    return run_admin(
        "create-tenant", "--name", name, "--admin-email", email, "--admin-password", PASSWORD, url=url
    )


def test_migrate_brings_an_empty_database_to_head_and_is_idempotent(
    pg_cluster: ThrowawayCluster, fresh_database: str
) -> None:
    url = pg_cluster.url(fresh_database)
    first = run_admin("migrate", url=url)
    assert first.returncode == 0, first.stderr
    assert f"to revision {head_revision()}" in first.stderr
    assert first.stdout == ""
    second = run_admin("migrate", "--metadata-url", url)
    assert second.returncode == 0, second.stderr
    assert "nothing to do" in second.stderr
    assert current_revision(url) == head_revision()


def test_the_migrated_schema_is_the_models_schema(metadata_url: str) -> None:
    engine = create_engine(sync_database_url(metadata_url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


@pytest.fixture
def owner_url(owner_database: tuple[str, str]) -> str:
    owner, _superuser = owner_database
    return owner


def test_a_non_superuser_owner_can_migrate_and_is_bound_by_row_level_security(owner_url: str) -> None:
    migrated = run_admin("migrate", url=owner_url)
    assert migrated.returncode == 0, migrated.stderr
    created = create_tenant(owner_url, "acme", "admin@acme.example")
    assert created.returncode == 0, created.stderr
    with psycopg.connect(owner_url, autocommit=True) as conn:
        # FORCE: owning the tables gives the login role no view of any tenant's rows.
        assert conn.execute("SELECT count(*) FROM users").fetchone() == (0,)
        with conn.transaction():
            conn.execute("SET LOCAL ROLE optischema_app")
            assert conn.execute(
                "SELECT optischema_ensure_statement_stats_partitions('2020-01-01', 2)"
            ).fetchone() == (2,)
            assert conn.execute(
                "SELECT optischema_drop_statement_stats_partitions('2020-01-02')"
            ).fetchone() == (1,)


def test_create_tenant_prints_both_ids_and_the_admin_can_sign_in(metadata_url: str) -> None:
    result = create_tenant(metadata_url, "acme", "Admin@Acme.example")
    assert result.returncode == 0, result.stderr
    ids = json.loads(result.stdout)
    assert result.stdout == json.dumps({"tenant_id": ids["tenant_id"], "user_id": ids["user_id"]}) + "\n"

    with psycopg.connect(metadata_url) as conn:
        conn.execute("SET LOCAL ROLE optischema_app")  # as the application signs in
        found = conn.execute(
            "SELECT tenant_id::text, user_id::text, role, password_hash, disabled_at "
            "FROM optischema_login_lookup('ADMIN@acme.example')"
        ).fetchall()
    assert len(found) == 1
    tenant_id, user_id, role, password_hash, disabled_at = found[0]
    assert (tenant_id, user_id, role, disabled_at) == (ids["tenant_id"], ids["user_id"], "admin", None)
    assert password_hash.startswith("$argon2id$")
    assert verify_password(password_hash, PASSWORD)

    with psycopg.connect(metadata_url, autocommit=True) as conn:  # superuser: the whole audit trail
        events = conn.execute(
            "SELECT tenant_id::text, actor, action, object FROM audit_events ORDER BY action"
        ).fetchall()
    assert (ids["tenant_id"], "optischema-admin", "user.create", f"user:{ids['user_id']}") in events


def test_create_tenant_with_a_taken_email_creates_nothing(metadata_url: str) -> None:
    assert create_tenant(metadata_url, "acme", "admin@acme.example").returncode == 0
    again = create_tenant(metadata_url, "impostor", "ADMIN@acme.example")
    assert again.returncode == 1
    assert "already signs in to a tenant" in again.stderr
    assert again.stdout == ""
    with psycopg.connect(metadata_url, autocommit=True) as conn:
        assert conn.execute("SELECT name FROM tenants").fetchall() == [("acme",)]


def test_create_tenant_on_an_unmigrated_database_says_what_to_do(
    pg_cluster: ThrowawayCluster, fresh_database: str
) -> None:
    result = create_tenant(pg_cluster.url(fresh_database), "acme", "admin@acme.example")
    assert result.returncode == 1
    assert "optischema-admin migrate" in result.stderr
    assert "Traceback" not in result.stderr
