"""The approve-and-apply lifecycle (maintenance windows, measured proof) and per-tenant webhooks with their deliveries.

`recommendations` gets what its lifecycle needs: who approved it and when, the apply or rollback job
in flight, when the change took effect, the squawk findings on its DDL (cached: listing never runs
the linter), and the measured verdict. `monitored_databases` gets an optional maintenance window.

`webhooks` and `webhook_deliveries` are tenant tables (RLS enabled and forced, `tenant_isolation`).
A delivery is an outbox row written in the transaction of the event it announces; a background job
sends it with retries. `(webhook_id, dedupe_key)` is unique, so an event reported twice (a finding
in every snapshot) is announced once.

The background jobs (measured proof, deliveries) serve every tenant, but row-level security shows a
transaction only its own tenant's rows. Two SECURITY DEFINER functions owned by `optischema_lookup`
(see 0002) say which tenants have work, and nothing else; the job then opens a transaction per
tenant. `optischema_lookup` may read exactly the columns they need.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

APP = "optischema_app"
LOOKUP = "optischema_lookup"
TENANT = "nullif(current_setting('app.tenant_id', true), '')::uuid"
DEFINER = "SECURITY DEFINER SET search_path = pg_catalog, pg_temp"
UUID = postgresql.UUID(as_uuid=True)
JSONB = postgresql.JSONB()
TEXT_ARRAY = postgresql.ARRAY(sa.Text())
TIMESTAMPTZ = sa.DateTime(timezone=True)
TENANT_TABLES = ("webhooks", "webhook_deliveries")
VERDICTS = ("improved", "neutral", "regressed")
WEBHOOK_KINDS = ("generic", "slack")
DELIVERY_STATUSES = ("pending", "delivered", "failed")


def _recommendation_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("lint", JSONB, nullable=True),
        sa.Column("approved_by", sa.Text(), nullable=True),
        sa.Column("approved_at", TIMESTAMPTZ, nullable=True),
        sa.Column("change_job_id", UUID, nullable=True),
        sa.Column("rollback_job_id", UUID, nullable=True),
        sa.Column("applied_at", TIMESTAMPTZ, nullable=True),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("measured_verdict", sa.Text(), nullable=True),
        sa.Column("measured_at", TIMESTAMPTZ, nullable=True),
        sa.Column("measured_detail", JSONB, nullable=True),
    ]


LOOKUP_READS = {
    "recommendations": "tenant_id, status, applied_at, measured_at",
    "webhook_deliveries": "tenant_id, status, next_attempt_at",
}


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _now(name: str) -> sa.Column[object]:
    return sa.Column(name, TIMESTAMPTZ, server_default=sa.text("now()"), nullable=False)


def _tables() -> None:
    for column in _recommendation_columns():
        op.add_column("recommendations", column)
    _run(
        "ALTER TABLE recommendations ADD CONSTRAINT ck_recommendations_measured_verdict "
        f"CHECK (measured_verdict IS NULL OR {_one_of('measured_verdict', VERDICTS)})"
    )
    # The measured-proof job's scan: applied changes not measured yet.
    op.create_index(
        "ix_recommendations_tenant_id_applied_at_unmeasured",
        "recommendations",
        ["tenant_id", "applied_at"],
        postgresql_where=sa.text("status = 'applied' AND measured_at IS NULL"),
    )
    op.add_column("monitored_databases", sa.Column("maintenance_window", JSONB, nullable=True))
    op.create_table(
        "webhooks",
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("id", UUID, nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("events", TEXT_ARRAY, nullable=False),
        sa.Column("min_improvement_pct", sa.Float(), nullable=False),
        sa.Column("secret_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        _now("created_at"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_webhooks"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_webhooks_tenant_id_tenants", ondelete="CASCADE"
        ),
        sa.CheckConstraint(_one_of("kind", WEBHOOK_KINDS), name="ck_webhooks_kind"),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("id", UUID, nullable=False),
        sa.Column("webhook_id", UUID, nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("dedupe_key", sa.Text(), nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        _now("next_attempt_at"),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        _now("created_at"),
        sa.Column("delivered_at", TIMESTAMPTZ, nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_webhook_deliveries"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "webhook_id"],
            ["webhooks.tenant_id", "webhooks.id"],
            name="fk_webhook_deliveries_tenant_id_webhook_id_webhooks",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(_one_of("status", DELIVERY_STATUSES), name="ck_webhook_deliveries_status"),
    )
    op.create_index(
        "uq_webhook_deliveries_tenant_id_webhook_id_dedupe_key",
        "webhook_deliveries",
        ["tenant_id", "webhook_id", "dedupe_key"],
        unique=True,
    )
    op.create_index(
        "ix_webhook_deliveries_tenant_id_next_attempt_at_pending",
        "webhook_deliveries",
        ["tenant_id", "next_attempt_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )


def _lookup_functions(schema: str) -> dict[str, str]:
    """Signature -> CREATE FUNCTION, owned by optischema_lookup: tenant ids with work, nothing more."""
    return {
        "optischema_tenants_awaiting_measurement()": f"""
            CREATE FUNCTION {schema}.optischema_tenants_awaiting_measurement()
            RETURNS SETOF uuid LANGUAGE sql STABLE {DEFINER} AS $$
                SELECT DISTINCT r.tenant_id FROM {schema}.recommendations r
                 WHERE r.status = 'applied' AND r.measured_at IS NULL AND r.applied_at IS NOT NULL
            $$""",
        "optischema_tenants_with_due_webhook_deliveries()": f"""
            CREATE FUNCTION {schema}.optischema_tenants_with_due_webhook_deliveries()
            RETURNS SETOF uuid LANGUAGE sql STABLE {DEFINER} AS $$
                SELECT DISTINCT d.tenant_id FROM {schema}.webhook_deliveries d
                 WHERE d.status = 'pending' AND d.next_attempt_at <= now()
            $$""",
    }


def _current_schema() -> str:
    schema = op.get_bind().execute(sa.text("SELECT current_schema()")).scalar_one()
    if not isinstance(schema, str) or not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
        raise RuntimeError(f"the metadata schema must be a plain lower-case identifier, not {schema!r}")
    return schema


def _run(statement: str) -> None:
    op.execute(sa.text(statement))


def upgrade() -> None:
    schema = _current_schema()
    _tables()
    for table in TENANT_TABLES:
        _run(f"ALTER TABLE {schema}.{table} ENABLE ROW LEVEL SECURITY")
        _run(f"ALTER TABLE {schema}.{table} FORCE ROW LEVEL SECURITY")
        _run(
            f"CREATE POLICY tenant_isolation ON {schema}.{table} "
            f"USING (tenant_id = {TENANT}) WITH CHECK (tenant_id = {TENANT})"
        )
        _run(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {schema}.{table} TO {APP}")
    for table, columns in LOOKUP_READS.items():
        _run(
            f"CREATE POLICY lookup_read ON {schema}.{table} FOR SELECT TO {LOOKUP} "
            f"USING (current_user = '{LOOKUP}')"
        )
        _run(f"GRANT SELECT ({columns}) ON {schema}.{table} TO {LOOKUP}")
    functions = _lookup_functions(schema)
    for signature, create in functions.items():
        _run(create)
        _run(f"REVOKE ALL ON FUNCTION {schema}.{signature} FROM PUBLIC")
        _run(f"GRANT EXECUTE ON FUNCTION {schema}.{signature} TO {APP}")
    # A new owner needs CREATE on the schema at the moment of the change, and not a moment longer.
    _run(f"GRANT CREATE ON SCHEMA {schema} TO {LOOKUP}")
    for signature in functions:
        _run(f"ALTER FUNCTION {schema}.{signature} OWNER TO {LOOKUP}")
    _run(f"REVOKE CREATE ON SCHEMA {schema} FROM {LOOKUP}")


def downgrade() -> None:
    schema = _current_schema()
    for signature in _lookup_functions(schema):
        _run(f"DROP FUNCTION {schema}.{signature}")
    for table, columns in LOOKUP_READS.items():
        if table == "recommendations":
            _run(f"DROP POLICY lookup_read ON {schema}.{table}")
            _run(f"REVOKE SELECT ({columns}) ON {schema}.{table} FROM {LOOKUP}")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhooks")
    op.drop_column("monitored_databases", "maintenance_window")
    op.drop_index("ix_recommendations_tenant_id_applied_at_unmeasured", "recommendations")
    _run("ALTER TABLE recommendations DROP CONSTRAINT ck_recommendations_measured_verdict")
    for column in reversed(_recommendation_columns()):
        op.drop_column("recommendations", column.name)
