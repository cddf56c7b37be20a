"""Analysis runs, suggestions with their proof, plan explanations, the LLM answer cache, token usage and per-tenant LLM settings.

Every table here is tenant data: RLS enabled and forced with the usual `tenant_isolation` policy,
read and written by `optischema_app` only within its tenant.

The analysis worker has to find work across tenants before it can act for one: which databases
have a run waiting (or a run whose lease ran out, its replica gone) or a snapshot not yet checked
for statements whose load or plan changed. `optischema_analysis_work` answers exactly that, and
only with (tenant, database) pairs: like the sign-in lookups of 0002 it is owned by
`optischema_lookup`, which may read just the columns it needs through a `lookup_read` policy. The
worker then acts for each tenant in a transaction scoped to it, as every request does.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision: str | None = "0004"
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

TENANT_TABLES = (
    "analysis_runs",
    "analysis_suggestions",
    "analysed_statements",
    "analysis_watches",
    "llm_answers",
    "llm_token_usage",
    "tenant_llm_settings",
)
# Exactly the columns optischema_analysis_work reads.
LOOKUP_READS = {
    "analysis_runs": "tenant_id, database_id, status, lease_expires_at, created_at",
    "analysis_watches": "tenant_id, database_id, snapshot_at, checked_at",
}
RUN_TRIGGERS = ("manual", "auto")
RUN_STATUSES = ("queued", "running", "succeeded", "failed")
SUGGESTION_SOURCES = ("rules", "llm")
SUGGESTION_KINDS = ("create_index", "rewrite")
SUGGESTION_STATUSES = ("pending", "verified", "estimated", "dismissed", "failed")
PROVIDERS = ("none", "openai", "gemini", "anthropic")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _now(name: str) -> sa.Column[Any]:
    return sa.Column(name, TIMESTAMPTZ, server_default=sa.text("now()"), nullable=False)


def _database_fk(table: str) -> sa.ForeignKeyConstraint:
    # The conventional name (fk_<table>_tenant_id_database_id_monitored_databases) would pass
    # PostgreSQL's 63 characters for the longer table names here; all of them use the short form.
    return sa.ForeignKeyConstraint(
        ["tenant_id", "database_id"],
        ["monitored_databases.tenant_id", "monitored_databases.id"],
        name=f"fk_{table}_database",
        ondelete="CASCADE",
    )


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=f"fk_{table}_tenant_id_tenants", ondelete="CASCADE"
    )


def _runs_and_suggestions() -> None:
    op.create_table(
        "analysis_runs",
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("id", UUID, nullable=False),
        sa.Column("database_id", UUID, nullable=False),
        sa.Column("trigger", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="queued", nullable=False),
        sa.Column("fingerprints", TEXT_ARRAY, server_default="{}", nullable=False),
        sa.Column("requested_by", UUID, nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("max_attempts", sa.Integer(), server_default="3", nullable=False),
        sa.Column("lease_expires_at", TIMESTAMPTZ, nullable=True),
        sa.Column("notices", JSONB, server_default="[]", nullable=False),
        sa.Column("dropped", JSONB, server_default="[]", nullable=False),
        sa.Column("summary", JSONB, server_default="{}", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        _now("created_at"),
        sa.Column("started_at", TIMESTAMPTZ, nullable=True),
        sa.Column("finished_at", TIMESTAMPTZ, nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_analysis_runs"),
        _database_fk("analysis_runs"),
        sa.CheckConstraint(_one_of("trigger", RUN_TRIGGERS), name="ck_analysis_runs_trigger"),
        sa.CheckConstraint(_one_of("status", RUN_STATUSES), name="ck_analysis_runs_status"),
        sa.CheckConstraint("attempts >= 0 AND max_attempts >= 1", name="ck_analysis_runs_attempts"),
    )
    # Debounce and the hourly bound read a database's recent runs; leasing its unfinished ones.
    op.create_index(
        "ix_analysis_runs_tenant_id_database_id_created_at",
        "analysis_runs",
        ["tenant_id", "database_id", "created_at"],
    )
    op.create_index(
        "ix_analysis_runs_created_at_unfinished",
        "analysis_runs",
        ["created_at"],
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    )
    op.create_table(
        "analysis_suggestions",
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("id", UUID, nullable=False),
        sa.Column("database_id", UUID, nullable=False),
        sa.Column("run_id", UUID, nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("table_name", sa.Text(), nullable=True),
        sa.Column("columns", TEXT_ARRAY, server_default="{}", nullable=False),
        sa.Column("sql", sa.Text(), nullable=False),
        sa.Column("rollback_sql", sa.Text(), nullable=True),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("risk", sa.Text(), nullable=True),
        sa.Column("min_improvement_pct", sa.Float(), nullable=False),
        sa.Column("evidence", JSONB, server_default="{}", nullable=False),
        sa.Column("job_id", UUID, nullable=True),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("cost_before", sa.Float(), nullable=True),
        sa.Column("cost_after", sa.Float(), nullable=True),
        sa.Column("improvement_pct", sa.Float(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("recommendation_id", UUID, nullable=True),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_analysis_suggestions"),
        _database_fk("analysis_suggestions"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "run_id"],
            ["analysis_runs.tenant_id", "analysis_runs.id"],
            name="fk_analysis_suggestions_tenant_id_run_id_analysis_runs",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(_one_of("source", SUGGESTION_SOURCES), name="ck_analysis_suggestions_source"),
        sa.CheckConstraint(_one_of("kind", SUGGESTION_KINDS), name="ck_analysis_suggestions_kind"),
        sa.CheckConstraint(_one_of("status", SUGGESTION_STATUSES), name="ck_analysis_suggestions_status"),
    )
    # A finished simulation finds the suggestion it proves by its job.
    op.create_index(
        "ix_analysis_suggestions_tenant_id_job_id",
        "analysis_suggestions",
        ["tenant_id", "job_id"],
        postgresql_where=sa.text("job_id IS NOT NULL"),
    )
    op.create_index(
        "ix_analysis_suggestions_tenant_id_run_id", "analysis_suggestions", ["tenant_id", "run_id"]
    )


def _statements_watches_and_llm() -> None:
    op.create_table(
        "analysed_statements",
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("database_id", UUID, nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("run_id", UUID, nullable=False),
        sa.Column("plan_cost", sa.Float(), nullable=True),
        sa.Column("load_pct", sa.Float(), nullable=True),
        sa.Column("context_hash", sa.Text(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("explanation_source", sa.Text(), nullable=False),
        _now("analysed_at"),
        sa.PrimaryKeyConstraint("tenant_id", "database_id", "fingerprint", name="pk_analysed_statements"),
        _database_fk("analysed_statements"),
        sa.CheckConstraint(
            "explanation_source IN ('llm', 'rules')", name="ck_analysed_statements_explanation_source"
        ),
    )
    op.create_table(
        "analysis_watches",
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("database_id", UUID, nullable=False),
        _now("snapshot_at"),
        sa.Column("checked_at", TIMESTAMPTZ, nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "database_id", name="pk_analysis_watches"),
        _database_fk("analysis_watches"),
    )
    op.create_table(
        "llm_answers",
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("context_hash", sa.Text(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("input_tokens", sa.Integer(), server_default="0", nullable=False),
        sa.Column("output_tokens", sa.Integer(), server_default="0", nullable=False),
        _now("created_at"),
        sa.PrimaryKeyConstraint(
            "tenant_id", "fingerprint", "context_hash", "provider", "model", name="pk_llm_answers"
        ),
        _tenant_fk("llm_answers"),
    )
    op.create_table(
        "llm_token_usage",
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), server_default="0", nullable=False),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("tenant_id", "month", name="pk_llm_token_usage"),
        _tenant_fk("llm_token_usage"),
    )
    op.create_table(
        "tenant_llm_settings",
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("base_url", sa.Text(), nullable=True),
        sa.Column("model", sa.Text(), nullable=True),
        sa.Column("api_key_encrypted", sa.LargeBinary(), nullable=True),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_tenant_llm_settings"),
        _tenant_fk("tenant_llm_settings"),
        sa.CheckConstraint(_one_of("provider", PROVIDERS), name="ck_tenant_llm_settings_provider"),
    )


def _work_function(schema: str) -> tuple[str, str]:
    """Signature and CREATE FUNCTION of the cross-tenant work lookup (owned by optischema_lookup)."""
    return (
        "optischema_analysis_work(integer)",
        f"""
        CREATE FUNCTION {schema}.optischema_analysis_work(p_limit integer)
        RETURNS TABLE(tenant_id uuid, database_id uuid)
        LANGUAGE sql STABLE {DEFINER} AS $$
            SELECT w.tenant_id, w.database_id
              FROM (
                    SELECT r.tenant_id, r.database_id, r.created_at AS since
                      FROM {schema}.analysis_runs r
                     WHERE r.status = 'queued' OR (r.status = 'running' AND r.lease_expires_at <= now())
                    UNION ALL
                    SELECT a.tenant_id, a.database_id, a.snapshot_at
                      FROM {schema}.analysis_watches a
                     WHERE a.checked_at IS NULL OR a.checked_at < a.snapshot_at
                   ) w
             GROUP BY w.tenant_id, w.database_id
             ORDER BY min(w.since), w.tenant_id, w.database_id
             LIMIT greatest(coalesce(p_limit, 0), 0)
        $$""",
    )


def _current_schema() -> str:
    schema = op.get_bind().execute(sa.text("SELECT current_schema()")).scalar_one()
    if not isinstance(schema, str) or not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
        raise RuntimeError(f"the metadata schema must be a plain lower-case identifier, not {schema!r}")
    return schema


def _run(statement: str) -> None:
    op.execute(sa.text(statement))


def upgrade() -> None:
    schema = _current_schema()
    _runs_and_suggestions()
    _statements_watches_and_llm()
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
    signature, create = _work_function(schema)
    _run(create)
    _run(f"REVOKE ALL ON FUNCTION {schema}.{signature} FROM PUBLIC")
    _run(f"GRANT EXECUTE ON FUNCTION {schema}.{signature} TO {APP}")
    # A new owner needs CREATE on the schema at the moment of the change, and not a moment longer.
    _run(f"GRANT CREATE ON SCHEMA {schema} TO {LOOKUP}")
    _run(f"ALTER FUNCTION {schema}.{signature} OWNER TO {LOOKUP}")
    _run(f"REVOKE CREATE ON SCHEMA {schema} FROM {LOOKUP}")


def downgrade() -> None:
    schema = _current_schema()
    signature, _ = _work_function(schema)
    _run(f"DROP FUNCTION {schema}.{signature}")
    for table in LOOKUP_READS:
        _run(f"DROP POLICY lookup_read ON {schema}.{table}")
    for table in reversed(TENANT_TABLES):
        op.drop_table(table)
