"""Tenancy in PostgreSQL: roles, row-level security, grants and the few SECURITY DEFINER functions.

`optischema_app` is the runtime role (the app SETs it per transaction): NOLOGIN, not superuser, not
BYPASSRLS, owner of nothing, so FORCEd row-level security filters every query it runs by the
transaction's `app.tenant_id`. `optischema_lookup` owns the functions that must work before a
tenant is known; policies open rows to it only when it is literally `current_user`, i.e. inside
those functions, so roles that merely inherit it gain nothing.

The partition functions belong to the migrating role, which owns `statement_stats`. Each partition
is created with no grant for the runtime role and with the parent's policy, forced: a query through
the parent is filtered by the parent's policy; a direct read of a partition is refused by privilege,
and would still be filtered by the partition's own policy if a grant ever crept in.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-20
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

APP = "optischema_app"
LOOKUP = "optischema_lookup"
TENANT = "nullif(current_setting('app.tenant_id', true), '')::uuid"
TENANT_TABLES = (
    "users",
    "login_emails",
    "refresh_tokens",
    "monitored_databases",
    "agent_tokens",
    "snapshots",
    "statements",
    "statement_stats",
    "plans",
    "database_schemas",
    "audit_events",
)
READ_WRITE = tuple(t for t in TENANT_TABLES if t not in ("login_emails", "audit_events"))
# Exactly the columns the lookup functions read, nothing more.
LOOKUP_READS = {
    "login_emails": "email, tenant_id, user_id",
    "users": "tenant_id, id, password_hash, role, disabled_at, token_generation",
    "refresh_tokens": "tenant_id, id, user_id, family_id, token_hmac, expires_at, rotated_at, revoked_at",
    "agent_tokens": "tenant_id, id, database_id, token_hmac, revoked_at",
}
DEFINER = "SECURITY DEFINER SET search_path = pg_catalog, pg_temp"
# Partitions the runtime role may drop must be older than this: a bug computing the cutoff cannot
# wipe the days the dashboard shows. Nor may it create partitions further ahead than this.
MIN_RETENTION_DAYS = 7
MAX_DAYS_AHEAD = 62


def _roles() -> list[str]:
    # Roles are cluster-wide: another metadata database on this cluster may have created them, or a
    # DBA may have, together with the membership (GRANT needs ADMIN OPTION on PostgreSQL 16+, so it
    # is only attempted when missing). Membership lets the login role SET ROLE to the runtime role
    # and hand the lookup functions to the lookup role.
    body = "".join(
        f"""
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
            CREATE ROLE {role} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
        ELSIF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}' AND (rolsuper OR rolbypassrls OR rolcanlogin)) THEN
            RAISE EXCEPTION 'role {role} exists with LOGIN, SUPERUSER or BYPASSRLS: row-level security would not hold';
        END IF;
        IF NOT pg_has_role(current_user, '{role}', 'MEMBER') THEN
            EXECUTE format('GRANT {role} TO %I', current_user);
        END IF;"""
        for role in (APP, LOOKUP)
    )
    return [f"DO $$ BEGIN {body} END $$"]


def _row_level_security(schema: str) -> list[str]:
    statements = []
    for table, key in [("tenants", "id"), *((t, "tenant_id") for t in TENANT_TABLES)]:
        statements += [
            f"ALTER TABLE {schema}.{table} ENABLE ROW LEVEL SECURITY",
            f"ALTER TABLE {schema}.{table} FORCE ROW LEVEL SECURITY",
            f"CREATE POLICY tenant_isolation ON {schema}.{table} USING ({key} = {TENANT}) WITH CHECK ({key} = {TENANT})",
        ]
    for table in LOOKUP_READS:
        statements.append(
            f"CREATE POLICY lookup_read ON {schema}.{table} FOR SELECT TO {LOOKUP} USING (current_user = '{LOOKUP}')"
        )
    statements.append(
        f"CREATE POLICY lookup_create ON {schema}.tenants FOR INSERT TO {LOOKUP} WITH CHECK (current_user = '{LOOKUP}')"
    )
    return statements


def _grants(schema: str) -> list[str]:
    statements = [
        f"GRANT USAGE ON SCHEMA {schema} TO {APP}, {LOOKUP}",
        # Tenants are created only by optischema_create_tenant, and deleting one cascades to
        # everything it has: neither is a request's business until a feature says so.
        f"GRANT SELECT, UPDATE ON {schema}.tenants TO {APP}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {', '.join(f'{schema}.{t}' for t in READ_WRITE)} TO {APP}",
        f"GRANT SELECT, INSERT ON {schema}.audit_events TO {APP}",  # append-only; login_emails: nothing
        f"GRANT INSERT, DELETE ON {schema}.login_emails TO {LOOKUP}",
        f"GRANT INSERT ON {schema}.tenants TO {LOOKUP}",
    ]
    statements += [
        f"GRANT SELECT ({columns}) ON {schema}.{t} TO {LOOKUP}" for t, columns in LOOKUP_READS.items()
    ]
    return statements


def _lookup_functions(schema: str) -> dict[str, str]:
    """Signature -> CREATE FUNCTION, for the functions owned by optischema_lookup."""
    tenant_or_raise = f"""v_tenant uuid := {TENANT};
        BEGIN
            IF v_tenant IS NULL THEN
                RAISE EXCEPTION 'no tenant is bound to this transaction' USING ERRCODE = '42501';
            END IF;"""
    return {
        "optischema_login_lookup(text)": f"""
            CREATE FUNCTION {schema}.optischema_login_lookup(p_email text)
            RETURNS TABLE(tenant_id uuid, user_id uuid, password_hash text, role text,
                          disabled_at timestamptz, token_generation integer)
            LANGUAGE sql STABLE {DEFINER} AS $$
                SELECT u.tenant_id, u.id, u.password_hash, u.role, u.disabled_at, u.token_generation
                  FROM {schema}.login_emails e
                  JOIN {schema}.users u ON u.tenant_id = e.tenant_id AND u.id = e.user_id
                 WHERE e.email = lower(p_email)
            $$""",
        "optischema_refresh_token_lookup(bytea)": f"""
            CREATE FUNCTION {schema}.optischema_refresh_token_lookup(p_hmac bytea)
            RETURNS TABLE(tenant_id uuid, id uuid, user_id uuid, family_id uuid,
                          expires_at timestamptz, rotated_at timestamptz, revoked_at timestamptz)
            LANGUAGE sql STABLE {DEFINER} AS $$
                SELECT t.tenant_id, t.id, t.user_id, t.family_id, t.expires_at, t.rotated_at, t.revoked_at
                  FROM {schema}.refresh_tokens t WHERE t.token_hmac = p_hmac
            $$""",
        "optischema_agent_token_lookup(bytea)": f"""
            CREATE FUNCTION {schema}.optischema_agent_token_lookup(p_hmac bytea)
            RETURNS TABLE(tenant_id uuid, database_id uuid, token_id uuid, revoked_at timestamptz)
            LANGUAGE sql STABLE {DEFINER} AS $$
                SELECT t.tenant_id, t.database_id, t.id, t.revoked_at
                  FROM {schema}.agent_tokens t WHERE t.token_hmac = p_hmac
            $$""",
        # The tenant comes from the transaction, never from an argument: a tenant cannot register
        # an email for another one.
        "optischema_register_login_email(text, uuid)": f"""
            CREATE FUNCTION {schema}.optischema_register_login_email(p_email text, p_user uuid) RETURNS void
            LANGUAGE plpgsql VOLATILE {DEFINER} AS $$
            DECLARE {tenant_or_raise}
                IF NOT EXISTS (SELECT 1 FROM {schema}.users u WHERE u.tenant_id = v_tenant AND u.id = p_user) THEN
                    RAISE EXCEPTION 'no such user in this tenant' USING ERRCODE = '23503';
                END IF;
                INSERT INTO {schema}.login_emails (email, tenant_id, user_id) VALUES (lower(p_email), v_tenant, p_user);
            EXCEPTION WHEN unique_violation THEN
                RAISE EXCEPTION 'this email is already registered' USING ERRCODE = '23505', CONSTRAINT = 'pk_login_emails';
            END $$""",
        "optischema_forget_login_email(uuid)": f"""
            CREATE FUNCTION {schema}.optischema_forget_login_email(p_user uuid) RETURNS integer
            LANGUAGE plpgsql VOLATILE {DEFINER} AS $$
            DECLARE v_count integer; {tenant_or_raise}
                DELETE FROM {schema}.login_emails WHERE tenant_id = v_tenant AND user_id = p_user;
                GET DIAGNOSTICS v_count = ROW_COUNT;
                RETURN v_count;
            END $$""",
        "optischema_create_tenant(text)": f"""
            CREATE FUNCTION {schema}.optischema_create_tenant(p_name text) RETURNS uuid
            LANGUAGE plpgsql VOLATILE {DEFINER} AS $$
            DECLARE v_id uuid := gen_random_uuid();
            BEGIN
                IF p_name IS NULL OR btrim(p_name) = '' THEN
                    RAISE EXCEPTION 'a tenant needs a name' USING ERRCODE = '22023';
                END IF;
                -- No RETURNING: that would need SELECT on tenants, which this role does not have.
                INSERT INTO {schema}.tenants (id, name) VALUES (v_id, btrim(p_name));
                RETURN v_id;
            END $$""",
    }


def _partition_functions(schema: str) -> dict[str, str]:
    """Signature -> CREATE FUNCTION, for the functions owned by the migrating role (the table owner)."""
    utc_today = "(now() AT TIME ZONE 'UTC')::date"
    lock = "PERFORM pg_advisory_xact_lock(hashtextextended('optischema.statement_stats.partitions', 0));"
    partition = f"format('{schema}.%I', v_name)"
    # Bounds are UTC instants written with their offset: a bare date would be read in the session's
    # TimeZone, and the days would shift with whoever created them.
    bound = "to_char({day}, 'YYYY-MM-DD') || ' 00:00:00+00'"
    return {
        "optischema_ensure_statement_stats_partitions(date, integer)": f"""
            CREATE FUNCTION {schema}.optischema_ensure_statement_stats_partitions(p_from date, p_days integer)
            RETURNS integer LANGUAGE plpgsql VOLATILE {DEFINER} AS $$
            DECLARE v_day date; v_name text; v_created integer := 0;
            BEGIN
                IF p_from IS NULL OR p_days IS NULL OR p_days < 1 OR p_from + p_days > {utc_today} + {MAX_DAYS_AHEAD} THEN
                    RAISE EXCEPTION 'partitions are created for 1 or more days up to {MAX_DAYS_AHEAD} days ahead'
                        USING ERRCODE = '22023';
                END IF;
                FOR v_day IN SELECT d::date FROM generate_series(p_from, p_from + p_days - 1, interval '1 day') d LOOP
                    v_name := 'statement_stats_p' || to_char(v_day, 'YYYYMMDD');
                    -- The common case takes no lock: creating a partition locks the whole table.
                    CONTINUE WHEN to_regclass({partition}) IS NOT NULL;
                    {lock}
                    CONTINUE WHEN to_regclass({partition}) IS NOT NULL;  -- created while we waited
                    EXECUTE format('CREATE TABLE %s PARTITION OF {schema}.statement_stats FOR VALUES FROM (%L) TO (%L)',
                                   {partition}, {bound.format(day="v_day")}, {bound.format(day="v_day + 1")});
                    EXECUTE format('REVOKE ALL ON TABLE %s FROM PUBLIC', {partition});
                    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', {partition});
                    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', {partition});
                    EXECUTE format('CREATE POLICY tenant_isolation ON %s USING (tenant_id = %s) WITH CHECK (tenant_id = %s)',
                                   {partition}, $t${TENANT}$t$, $t${TENANT}$t$);
                    v_created := v_created + 1;
                END LOOP;
                RETURN v_created;
            END $$""",
        "optischema_drop_statement_stats_partitions(date)": f"""
            CREATE FUNCTION {schema}.optischema_drop_statement_stats_partitions(p_before date)
            RETURNS integer LANGUAGE plpgsql VOLATILE {DEFINER} AS $$
            DECLARE v_name text; v_dropped integer := 0;
            BEGIN
                IF p_before IS NULL OR p_before > {utc_today} - {MIN_RETENTION_DAYS} THEN
                    RAISE EXCEPTION 'partitions of the last {MIN_RETENTION_DAYS} days are never dropped'
                        USING ERRCODE = '22023';
                END IF;
                {lock}
                FOR v_name IN
                    SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                     WHERE i.inhparent = '{schema}.statement_stats'::regclass
                       AND c.relname ~ '^statement_stats_p[0-9]{{8}}$'
                       AND to_date(substr(c.relname, 18), 'YYYYMMDD') < p_before
                     ORDER BY c.relname
                LOOP
                    EXECUTE format('DROP TABLE %s', {partition});
                    v_dropped := v_dropped + 1;
                END LOOP;
                RETURN v_dropped;
            END $$""",
    }


def _current_schema() -> str:
    schema = op.get_bind().execute(sa.text("SELECT current_schema()")).scalar_one()
    # The name is spliced into function bodies; anything but a plain identifier is refused.
    if not isinstance(schema, str) or not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
        raise RuntimeError(f"the metadata schema must be a plain lower-case identifier, not {schema!r}")
    return schema


def _run(statement: str) -> None:
    # text() escapes format()'s %I and %L for the driver; no ":name" in these bodies is a bind parameter.
    op.execute(sa.text(statement))


def upgrade() -> None:
    schema = _current_schema()
    for statement in _roles() + _row_level_security(schema) + _grants(schema):
        _run(statement)
    lookup_functions = _lookup_functions(schema)
    for signature, create in {**lookup_functions, **_partition_functions(schema)}.items():
        _run(create)
        _run(f"REVOKE ALL ON FUNCTION {schema}.{signature} FROM PUBLIC")
        _run(f"GRANT EXECUTE ON FUNCTION {schema}.{signature} TO {APP}")
    # A new owner needs CREATE on the schema at the moment of the change, and not a moment longer.
    _run(f"GRANT CREATE ON SCHEMA {schema} TO {LOOKUP}")
    for signature in lookup_functions:
        _run(f"ALTER FUNCTION {schema}.{signature} OWNER TO {LOOKUP}")
    _run(f"REVOKE CREATE ON SCHEMA {schema} FROM {LOOKUP}")


def downgrade() -> None:
    raise NotImplementedError(
        "0002 is what keeps tenants apart; there is no supported way back below it. "
        "Restore a backup taken before the upgrade instead."
    )
