"""Agent jobs, the job-signing keys, recommendations, and the agent's spool counters.

`agent_jobs` is the durable queue several control-plane replicas lease from with `FOR UPDATE SKIP
LOCKED`; `recommendations` holds what the agent's advisor (and later rules and the LLM) found.
Both are tenant tables: RLS enabled and forced with the usual `tenant_isolation` policy.

`signing_keys` is not tenant data: the control plane has one Ed25519 job-signing key (and, during
a rotation, a `next` one published ahead of use, and `retired` ones still published for jobs
signed just before). The private key is stored Fernet-encrypted under a key derived from
OPTISCHEMA_SECRET_KEY, and wiped when the key retires. The runtime role may SELECT the table (it
signs every job it hands out, and rotation done by another process must reach every replica), but
it has no INSERT, UPDATE or DELETE: the writes go through two SECURITY DEFINER functions owned by
the migrating role, which allow only the transitions rotation needs:

* `optischema_add_signing_key`: a new key, `active` only while none is, otherwise `next`
  (replacing an unused `next`, which is retired) or, for a key generated at start-up, nothing:
  two replicas starting together must not turn the loser's key into a rotation;
* `optischema_activate_next_signing_key`: once `next` is old enough, it becomes `active` and the
  active one `retired`, its private key erased.

A plain INSERT/UPDATE grant would let any request path, through a bug, retire the active key,
revive a retired one, or rewrite a public key under an existing key id; column grants cannot say
"only these transitions". The functions can, and they are the only writers.

The GIN index on `recommendations.fingerprints` does not lead with `tenant_id`: a GIN index over a
uuid needs the btree_gin extension, which a metadata database may not be allowed to create. The
index finds rows by a 16-hex fingerprint, which is selective on its own, and every read still
filters by tenant and database (and RLS filters again).

Revision ID: 0003
Revises: 0002
Create Date: 2025-02-03
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

APP = "optischema_app"
TENANT = "nullif(current_setting('app.tenant_id', true), '')::uuid"
TENANT_TABLES = ("agent_jobs", "recommendations")
DEFINER = "SECURITY DEFINER SET search_path = pg_catalog, pg_temp"
UUID = postgresql.UUID(as_uuid=True)
JSONB = postgresql.JSONB()
TEXT_ARRAY = postgresql.ARRAY(sa.Text())
TIMESTAMPTZ = sa.DateTime(timezone=True)

JOB_KINDS = ("simulate_indexes", "judge_rewrite", "apply", "rollback")
JOB_STATUSES = ("queued", "leased", "succeeded", "failed", "expired")
RECOMMENDATION_SOURCES = ("agent", "rules", "llm")
RECOMMENDATION_KINDS = ("create_index", "drop_index", "rewrite", "config")
TIERS = ("verified", "estimated", "advisory", "measured")
RECOMMENDATION_STATUSES = ("proposed", "approved", "applying", "applied", "failed", "rejected", "rolled_back")
KEY_STATUSES = ("active", "next", "retired")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _now(name: str) -> sa.Column[Any]:
    return sa.Column(name, TIMESTAMPTZ, server_default=sa.text("now()"), nullable=False)


def _database_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", "database_id"],
        ["monitored_databases.tenant_id", "monitored_databases.id"],
        name=f"fk_{table}_tenant_id_database_id_monitored_databases",
        ondelete="CASCADE",
    )


def _tables() -> None:
    op.create_table(
        "recommendations",
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("id", UUID, nullable=False),
        sa.Column("database_id", UUID, nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("stable_key", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("tier", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="proposed", nullable=False),
        sa.Column("sql", sa.Text(), nullable=False),
        sa.Column("rollback_sql", sa.Text(), nullable=True),
        sa.Column("table_name", sa.Text(), nullable=True),
        sa.Column("columns", TEXT_ARRAY, server_default="{}", nullable=False),
        sa.Column("improvement_pct", sa.Float(), nullable=True),
        sa.Column("measured_improvement_pct", sa.Float(), nullable=True),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column("evidence", JSONB, server_default="[]", nullable=False),
        sa.Column("fingerprints", TEXT_ARRAY, server_default="{}", nullable=False),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_recommendations"),
        _database_fk("recommendations"),
        sa.CheckConstraint(_one_of("source", RECOMMENDATION_SOURCES), name="ck_recommendations_source"),
        sa.CheckConstraint(_one_of("kind", RECOMMENDATION_KINDS), name="ck_recommendations_kind"),
        sa.CheckConstraint(_one_of("tier", TIERS), name="ck_recommendations_tier"),
        sa.CheckConstraint(_one_of("status", RECOMMENDATION_STATUSES), name="ck_recommendations_status"),
    )
    op.create_index(
        "uq_recommendations_tenant_id_database_id_stable_key",
        "recommendations",
        ["tenant_id", "database_id", "stable_key"],
        unique=True,
    )
    op.create_index(
        "ix_recommendations_tenant_id_database_id_status",
        "recommendations",
        ["tenant_id", "database_id", "status"],
    )
    op.create_index(
        "ix_recommendations_fingerprints", "recommendations", ["fingerprints"], postgresql_using="gin"
    )
    op.create_table(
        "agent_jobs",
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("id", UUID, nullable=False),
        sa.Column("database_id", UUID, nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("status", sa.Text(), server_default="queued", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("max_attempts", sa.Integer(), server_default="3", nullable=False),
        sa.Column("lease_expires_at", TIMESTAMPTZ, nullable=True),
        _now("not_before"),
        sa.Column("expires_at", TIMESTAMPTZ, nullable=False),
        sa.Column("result", JSONB, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("recommendation_id", UUID, nullable=True),
        _now("created_at"),
        sa.Column("finished_at", TIMESTAMPTZ, nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_agent_jobs"),
        _database_fk("agent_jobs"),
        sa.CheckConstraint(_one_of("kind", JOB_KINDS), name="ck_agent_jobs_kind"),
        sa.CheckConstraint(_one_of("status", JOB_STATUSES), name="ck_agent_jobs_status"),
        sa.CheckConstraint("attempts >= 0 AND max_attempts >= 1", name="ck_agent_jobs_attempts"),
    )
    # What leasing scans: the unfinished jobs of one database, oldest first. Finished jobs, the
    # bulk of the table over time, are not in it.
    op.create_index(
        "ix_agent_jobs_tenant_id_database_id_created_at_unfinished",
        "agent_jobs",
        ["tenant_id", "database_id", "created_at"],
        postgresql_where=sa.text("status IN ('queued', 'leased')"),
    )
    op.create_table(
        "signing_keys",
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("private_key_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        _now("created_at"),
        sa.Column("activated_at", TIMESTAMPTZ, nullable=True),
        sa.Column("retired_at", TIMESTAMPTZ, nullable=True),
        sa.PrimaryKeyConstraint("key_id", name="pk_signing_keys"),
        sa.CheckConstraint(_one_of("status", KEY_STATUSES), name="ck_signing_keys_status"),
        sa.CheckConstraint("octet_length(public_key) = 32", name="ck_signing_keys_public_key"),
        sa.CheckConstraint(
            "(status = 'retired') = (private_key_encrypted IS NULL)", name="ck_signing_keys_private_key"
        ),
    )
    for status in ("active", "next"):  # at most one of each
        op.create_index(
            f"uq_signing_keys_{status}",
            "signing_keys",
            ["status"],
            unique=True,
            postgresql_where=sa.text(f"status = '{status}'"),
        )
    op.add_column(
        "monitored_databases",
        sa.Column("agent_spooled_snapshots", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column(
        "monitored_databases",
        sa.Column("agent_dropped_snapshots", sa.BigInteger(), server_default="0", nullable=False),
    )


def _signing_key_functions(schema: str) -> dict[str, str]:
    """Signature -> CREATE FUNCTION, owned by the migrating role (the owner of signing_keys)."""
    lock = "PERFORM pg_advisory_xact_lock(hashtextextended('optischema.signing_keys', 0));"
    return {
        "optischema_add_signing_key(text, bytea, bytea, boolean)": f"""
            CREATE FUNCTION {schema}.optischema_add_signing_key(
                p_key_id text, p_public bytea, p_private bytea, p_only_if_none_active boolean)
            RETURNS text LANGUAGE plpgsql VOLATILE {DEFINER} AS $$
            DECLARE v_status text;
            BEGIN
                IF p_key_id IS NULL OR p_key_id !~ '^[A-Za-z0-9_.:-]{{1,64}}$'
                   OR octet_length(p_public) IS DISTINCT FROM 32 OR coalesce(octet_length(p_private), 0) = 0
                   OR p_only_if_none_active IS NULL THEN
                    RAISE EXCEPTION 'a signing key needs an id, a 32-byte public key and its encrypted private key'
                        USING ERRCODE = '22023';
                END IF;
                {lock}
                SELECT status INTO v_status FROM {schema}.signing_keys WHERE key_id = p_key_id;
                IF FOUND THEN
                    RETURN v_status;  -- the same key again (two replicas, one env key): nothing to do
                END IF;
                IF NOT EXISTS (SELECT 1 FROM {schema}.signing_keys WHERE status = 'active') THEN
                    v_status := 'active';
                ELSIF p_only_if_none_active THEN
                    RETURN NULL;  -- a key generated at start-up, but another replica was first
                ELSE
                    v_status := 'next';
                    UPDATE {schema}.signing_keys
                       SET status = 'retired', retired_at = now(), private_key_encrypted = NULL
                     WHERE status = 'next';
                END IF;
                INSERT INTO {schema}.signing_keys (key_id, public_key, private_key_encrypted, status, activated_at)
                VALUES (p_key_id, p_public, p_private, v_status, CASE WHEN v_status = 'active' THEN now() END);
                RETURN v_status;
            END $$""",
        "optischema_activate_next_signing_key(interval)": f"""
            CREATE FUNCTION {schema}.optischema_activate_next_signing_key(p_min_age interval)
            RETURNS text LANGUAGE plpgsql VOLATILE {DEFINER} AS $$
            DECLARE v_next text;
            BEGIN
                IF p_min_age IS NULL OR p_min_age < interval '0' THEN
                    RAISE EXCEPTION 'the minimum age must be zero or more' USING ERRCODE = '22023';
                END IF;
                {lock}
                SELECT key_id INTO v_next FROM {schema}.signing_keys
                 WHERE status = 'next' AND created_at <= now() - p_min_age;
                IF NOT FOUND THEN
                    RETURN NULL;
                END IF;
                UPDATE {schema}.signing_keys
                   SET status = 'retired', retired_at = now(), private_key_encrypted = NULL
                 WHERE status = 'active';
                UPDATE {schema}.signing_keys SET status = 'active', activated_at = now() WHERE key_id = v_next;
                RETURN v_next;
            END $$""",
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
    _run(f"REVOKE ALL ON {schema}.signing_keys FROM PUBLIC")
    _run(f"GRANT SELECT ON {schema}.signing_keys TO {APP}")
    for signature, create in _signing_key_functions(schema).items():
        _run(create)
        _run(f"REVOKE ALL ON FUNCTION {schema}.{signature} FROM PUBLIC")
        _run(f"GRANT EXECUTE ON FUNCTION {schema}.{signature} TO {APP}")


def downgrade() -> None:
    schema = _current_schema()
    for signature in _signing_key_functions(schema):
        _run(f"DROP FUNCTION {schema}.{signature}")
    op.drop_column("monitored_databases", "agent_dropped_snapshots")
    op.drop_column("monitored_databases", "agent_spooled_snapshots")
    op.drop_table("signing_keys")
    op.drop_table("agent_jobs")
    op.drop_table("recommendations")
