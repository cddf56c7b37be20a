"""The snapshot inbox: bodies accepted from agents, stored later by the workers.

`POST /agent/snapshots` validates a body, writes it here as received and answers 202; workers
(`OPTISCHEMA_WORKERS=only` processes, as many as are started) claim entries with
`FOR UPDATE SKIP LOCKED`, store them and delete them in one transaction. Keyed like `snapshots`
(tenant, database, snapshot_id), so a resend is a duplicate whether or not it is stored yet.

A tenant table like the others (RLS enabled and forced, `tenant_isolation`, owned by the migrating
role, not the app's). Workers serve every tenant, so one SECURITY DEFINER function owned by
`optischema_lookup` (see 0006) says which tenants have entries due, and nothing else; the worker
then claims each tenant's entries in a transaction bound to that tenant.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014"
down_revision: str | None = "0013"
branch_labels: str | None = None
depends_on: str | None = None

APP = "optischema_app"
LOOKUP = "optischema_lookup"
TENANT = "nullif(current_setting('app.tenant_id', true), '')::uuid"
DEFINER = "SECURITY DEFINER SET search_path = pg_catalog, pg_temp"
UUID = postgresql.UUID(as_uuid=True)
TIMESTAMPTZ = sa.DateTime(timezone=True)
TABLE = "snapshot_inbox"
TENANTS_WITH_INBOX = "optischema_tenants_with_snapshot_inbox()"


def _current_schema() -> str:
    schema = op.get_bind().execute(sa.text("SELECT current_schema()")).scalar_one()
    if not isinstance(schema, str) or not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
        raise RuntimeError(f"the metadata schema must be a plain lower-case identifier, not {schema!r}")
    return schema


def _run(statement: str) -> None:
    op.execute(sa.text(statement))


def upgrade() -> None:
    schema = _current_schema()
    op.create_table(
        TABLE,
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("database_id", UUID, nullable=False),
        sa.Column("snapshot_id", UUID, nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("content_encoding", sa.Text(), nullable=True),
        sa.Column("received_at", TIMESTAMPTZ, server_default=sa.func.now(), nullable=False),
        sa.Column("not_before", TIMESTAMPTZ, server_default=sa.func.now(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "database_id"],
            ["monitored_databases.tenant_id", "monitored_databases.id"],
            name=f"fk_{TABLE}_tenant_id_database_id_monitored_databases",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "database_id", "snapshot_id", name=f"pk_{TABLE}"),
    )
    op.create_index(
        f"ix_{TABLE}_tenant_id_not_before_received_at", TABLE, ["tenant_id", "not_before", "received_at"]
    )
    # Gzipped bodies do not compress again: PostgreSQL would try (and give up) on each one.
    _run(f"ALTER TABLE {schema}.{TABLE} ALTER COLUMN body SET STORAGE EXTERNAL")
    _run(f"ALTER TABLE {schema}.{TABLE} ENABLE ROW LEVEL SECURITY")
    _run(f"ALTER TABLE {schema}.{TABLE} FORCE ROW LEVEL SECURITY")
    _run(
        f"CREATE POLICY tenant_isolation ON {schema}.{TABLE} "
        f"USING (tenant_id = {TENANT}) WITH CHECK (tenant_id = {TENANT})"
    )
    _run(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {schema}.{TABLE} TO {APP}")
    _run(
        f"CREATE POLICY lookup_read ON {schema}.{TABLE} FOR SELECT TO {LOOKUP} "
        f"USING (current_user = '{LOOKUP}')"
    )
    _run(f"GRANT SELECT (tenant_id, not_before) ON {schema}.{TABLE} TO {LOOKUP}")
    _run(f"""
        CREATE FUNCTION {schema}.{TENANTS_WITH_INBOX}
        RETURNS SETOF uuid LANGUAGE sql STABLE {DEFINER} AS $$
            SELECT DISTINCT i.tenant_id FROM {schema}.{TABLE} i WHERE i.not_before <= now()
        $$""")
    _run(f"REVOKE ALL ON FUNCTION {schema}.{TENANTS_WITH_INBOX} FROM PUBLIC")
    _run(f"GRANT EXECUTE ON FUNCTION {schema}.{TENANTS_WITH_INBOX} TO {APP}")
    # A new owner needs CREATE on the schema at the moment of the change, and not a moment longer.
    _run(f"GRANT CREATE ON SCHEMA {schema} TO {LOOKUP}")
    _run(f"ALTER FUNCTION {schema}.{TENANTS_WITH_INBOX} OWNER TO {LOOKUP}")
    _run(f"REVOKE CREATE ON SCHEMA {schema} FROM {LOOKUP}")


def downgrade() -> None:
    schema = _current_schema()
    _run(f"DROP FUNCTION {schema}.{TENANTS_WITH_INBOX}")
    op.drop_table(TABLE)
