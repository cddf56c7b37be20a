"""Live updates for open pages: single-use stream tickets, and "what changed since" made cheap.

`live_tickets` is tenant data like any other (RLS enabled and forced, `tenant_isolation`), written
and redeemed by `optischema_app` within its tenant only. It needs no SECURITY DEFINER lookup: the
ticket names its tenant (see control_plane.live.service), so redemption is a plain tenant-scoped
DELETE ... RETURNING. Only the ticket's HMAC is stored.

The live stream polls "what changed since T" for one database every couple of seconds, from any
API process, so each source gets an index on (tenant_id, database_id, <changed at>):

- `snapshots.received_at` (the control plane's clock; `collected_at` is the agent's, and a spooled
  snapshot arrives late with an old one);
- `status_changed_at` on `agent_jobs`, `analysis_runs` and `recommendations`, new here, and kept by
  one trigger on every status change. A trigger rather than the writers: statuses move in five
  modules and two processes (web workers, their ingestion companions), and a writer added later
  cannot forget it. It uses `clock_timestamp()`, not `now()`: a long transaction (an analysis run)
  then stamps its change close to its commit, which keeps the stream's look-back window small.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

APP = "optischema_app"
TENANT = "nullif(current_setting('app.tenant_id', true), '')::uuid"
UUID = postgresql.UUID(as_uuid=True)
TIMESTAMPTZ = sa.DateTime(timezone=True)
STATUS_TABLES = ("agent_jobs", "analysis_runs", "recommendations")
TOUCH_FUNCTION = "optischema_touch_status_changed_at()"
TRIGGER = "status_changed_at"


def _current_schema() -> str:
    schema = op.get_bind().execute(sa.text("SELECT current_schema()")).scalar_one()
    if not isinstance(schema, str) or not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
        raise RuntimeError(f"the metadata schema must be a plain lower-case identifier, not {schema!r}")
    return schema


def _run(statement: str) -> None:
    op.execute(sa.text(statement))


def _tickets(schema: str) -> None:
    op.create_table(
        "live_tickets",
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("ticket_hmac", sa.LargeBinary(), nullable=False),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("token_generation", sa.Integer(), nullable=False),
        sa.Column("expires_at", TIMESTAMPTZ, nullable=False),
        sa.Column("created_at", TIMESTAMPTZ, server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "ticket_hmac", name="pk_live_tickets"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["users.tenant_id", "users.id"],
            name="fk_live_tickets_tenant_id_user_id_users",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_live_tickets_tenant_id_expires_at", "live_tickets", ["tenant_id", "expires_at"])
    _run(f"ALTER TABLE {schema}.live_tickets ENABLE ROW LEVEL SECURITY")
    _run(f"ALTER TABLE {schema}.live_tickets FORCE ROW LEVEL SECURITY")
    _run(
        f"CREATE POLICY tenant_isolation ON {schema}.live_tickets "
        f"USING (tenant_id = {TENANT}) WITH CHECK (tenant_id = {TENANT})"
    )
    # Issued and redeemed (deleted), never changed.
    _run(f"GRANT SELECT, INSERT, DELETE ON {schema}.live_tickets TO {APP}")


def upgrade() -> None:
    schema = _current_schema()
    _tickets(schema)
    op.create_index(
        "ix_snapshots_tenant_id_database_id_received_at",
        "snapshots",
        ["tenant_id", "database_id", "received_at"],
    )
    _run(
        f"""CREATE FUNCTION {schema}.{TOUCH_FUNCTION} RETURNS trigger
            LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
            BEGIN
                NEW.status_changed_at := clock_timestamp();
                RETURN NEW;
            END $$"""
    )
    for table in STATUS_TABLES:
        # Existing rows: as of now (a non-volatile default, so no table rewrite).
        op.add_column(
            table,
            sa.Column("status_changed_at", TIMESTAMPTZ, server_default=sa.text("now()"), nullable=False),
        )
        op.create_index(
            f"ix_{table}_tenant_id_database_id_status_changed_at",
            table,
            ["tenant_id", "database_id", "status_changed_at"],
        )
        _run(
            f"CREATE TRIGGER {TRIGGER} BEFORE UPDATE OF status ON {schema}.{table} FOR EACH ROW "
            f"WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION {schema}.{TOUCH_FUNCTION}"
        )


def downgrade() -> None:
    schema = _current_schema()
    for table in STATUS_TABLES:
        _run(f"DROP TRIGGER {TRIGGER} ON {schema}.{table}")
        op.drop_index(f"ix_{table}_tenant_id_database_id_status_changed_at", table)
        op.drop_column(table, "status_changed_at")
    _run(f"DROP FUNCTION {schema}.{TOUCH_FUNCTION}")
    op.drop_index("ix_snapshots_tenant_id_database_id_received_at", "snapshots")
    op.drop_table("live_tickets")
