"""The metadata schema: tenants, users, monitored databases and what their agents send.

Written out table by table rather than from the models, so that this revision stays what it was
when the models move on. Every tenant-owned table leads its primary key and indexes with
`tenant_id`, so the schema can later be distributed by tenant. Row-level security, roles, grants and
functions follow in 0002.

Revision ID: 0001
Revises:
Create Date: 2025-01-20
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

UUID = postgresql.UUID(as_uuid=True)
JSONB = postgresql.JSONB()
TIMESTAMPTZ = sa.DateTime(timezone=True)


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=f"fk_{table}_tenant_id_tenants", ondelete="CASCADE"
    )


def _database_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", "database_id"],
        ["monitored_databases.tenant_id", "monitored_databases.id"],
        name=f"fk_{table}_tenant_id_database_id_monitored_databases",
        ondelete="CASCADE",
    )


def _now(name: str) -> sa.Column[Any]:
    return sa.Column(name, TIMESTAMPTZ, server_default=sa.text("now()"), nullable=False)


# The counters of one statement over one interval, in column order; the *_ms ones are double precision.
COUNTERS = (
    "calls",
    "rows",
    "total_exec_time_ms",
    "total_plan_time_ms",
    "shared_blks_hit",
    "shared_blks_read",
    "shared_blks_dirtied",
    "shared_blks_written",
    "local_blks_hit",
    "local_blks_read",
    "temp_blks_read",
    "temp_blks_written",
    "blk_read_time_ms",
    "blk_write_time_ms",
    "wal_bytes",
)


def _counters() -> list[sa.Column[Any]]:
    return [
        sa.Column(name, sa.Float() if name.endswith("_ms") else sa.BigInteger(), nullable=False)
        for name in COUNTERS
    ]


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", UUID, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("llm_token_budget_monthly", sa.BigInteger(), nullable=True),
        _now("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_tenants"),
    )
    op.create_table(
        "users",
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("id", UUID, nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("token_generation", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("disabled_at", TIMESTAMPTZ, nullable=True),
        _now("created_at"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_users"),
        _tenant_fk("users"),
        sa.CheckConstraint("role IN ('admin', 'analyst', 'viewer')", name="ck_users_role"),
    )
    op.create_table(
        "login_emails",
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("user_id", UUID, nullable=False),
        sa.PrimaryKeyConstraint("email", name="pk_login_emails"),
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("id", UUID, nullable=False),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("family_id", UUID, nullable=False),
        sa.Column("token_hmac", sa.LargeBinary(), nullable=False),
        _now("issued_at"),
        sa.Column("expires_at", TIMESTAMPTZ, nullable=False),
        sa.Column("rotated_at", TIMESTAMPTZ, nullable=True),
        sa.Column("revoked_at", TIMESTAMPTZ, nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_refresh_tokens"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["users.tenant_id", "users.id"],
            name="fk_refresh_tokens_tenant_id_user_id_users",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_refresh_tokens_token_hmac", "refresh_tokens", ["token_hmac"], unique=True)
    op.create_index("ix_refresh_tokens_tenant_id_family_id", "refresh_tokens", ["tenant_id", "family_id"])
    op.create_table(
        "monitored_databases",
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("id", UUID, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        _now("created_at"),
        sa.Column("agent_last_seen_at", TIMESTAMPTZ, nullable=True),
        sa.Column("agent_version", sa.Text(), nullable=True),
        sa.Column("server_version", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_monitored_databases"),
        _tenant_fk("monitored_databases"),
    )
    op.create_table(
        "agent_tokens",
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("id", UUID, nullable=False),
        sa.Column("database_id", UUID, nullable=False),
        sa.Column("token_hmac", sa.LargeBinary(), nullable=False),
        _now("created_at"),
        sa.Column("revoked_at", TIMESTAMPTZ, nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_agent_tokens"),
        _database_fk("agent_tokens"),
    )
    op.create_index("ix_agent_tokens_token_hmac", "agent_tokens", ["token_hmac"], unique=True)
    op.create_table(
        "snapshots",
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("database_id", UUID, nullable=False),
        sa.Column("snapshot_id", UUID, nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("agent_version", sa.Text(), nullable=False),
        sa.Column("collected_at", TIMESTAMPTZ, nullable=False),
        _now("received_at"),
        sa.Column("interval_kind", sa.Text(), nullable=False),
        sa.Column("interval_seconds", sa.Float(), nullable=True),
        sa.Column("reset_detected", sa.Boolean(), nullable=False),
        sa.Column("statement_count", sa.Integer(), nullable=False),
        sa.Column("server", JSONB, nullable=False),
        sa.Column("dropped", JSONB, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "database_id", "snapshot_id", name="pk_snapshots"),
        _database_fk("snapshots"),
    )
    op.create_index(
        "ix_snapshots_tenant_id_database_id_collected_at",
        "snapshots",
        ["tenant_id", "database_id", "collected_at"],
    )
    op.create_table(
        "statements",
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("database_id", UUID, nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("statement_type", sa.Text(), nullable=False),
        sa.Column("relations", postgresql.ARRAY(sa.Text()), nullable=False),
        _now("first_seen_at"),
        _now("last_seen_at"),
        sa.PrimaryKeyConstraint("tenant_id", "database_id", "fingerprint", name="pk_statements"),
        _database_fk("statements"),
    )
    # Daily partitions come from optischema_ensure_statement_stats_partitions (0002). No DEFAULT
    # partition: rows in it would block creating the partition their day belongs to.
    op.create_table(
        "statement_stats",
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("database_id", UUID, nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("collected_at", TIMESTAMPTZ, nullable=False),
        sa.Column("snapshot_id", UUID, nullable=False),
        sa.Column("interval_seconds", sa.Float(), nullable=True),
        *_counters(),
        sa.PrimaryKeyConstraint(
            "tenant_id", "database_id", "fingerprint", "collected_at", name="pk_statement_stats"
        ),
        postgresql_partition_by="RANGE (collected_at)",
    )
    op.create_table(
        "plans",
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("database_id", UUID, nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("collected_at", TIMESTAMPTZ, nullable=False),
        sa.Column("total_cost", sa.Float(), nullable=False),
        sa.Column("plan", JSONB, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "database_id", "fingerprint", name="pk_plans"),
        _database_fk("plans"),
    )
    op.create_table(
        "database_schemas",
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("database_id", UUID, nullable=False),
        sa.Column("collected_at", TIMESTAMPTZ, nullable=False),
        sa.Column("tables", JSONB, nullable=False),
        sa.Column("indexes", JSONB, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "database_id", name="pk_database_schemas"),
        _database_fk("database_schemas"),
    )
    op.create_table(
        "audit_events",
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("id", UUID, nullable=False),
        _now("at"),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("actor_user_id", UUID, nullable=True),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("object", sa.Text(), nullable=False),
        sa.Column("detail", JSONB, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_audit_events"),
        _tenant_fk("audit_events"),
    )
    op.create_index("ix_audit_events_tenant_id_at", "audit_events", ["tenant_id", "at"])


def downgrade() -> None:
    raise NotImplementedError(
        "0001 creates the metadata schema; going below it would drop every tenant's data. "
        "Restore a backup taken before the upgrade instead."
    )
