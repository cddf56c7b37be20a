"""Row-level security reads the tenant once per statement, not once per row.

Every `tenant_isolation` policy compared the row's tenant with
`nullif(current_setting('app.tenant_id', true), '')::uuid`, a STABLE expression PostgreSQL
evaluates again for every row it checks: each row an INSERT writes (WITH CHECK), and each row an
UPDATE reads and writes (USING and WITH CHECK). Storing one 5,000-statement snapshot checks ~15,000
rows (its raw rows, its rollups' updates), each a lookup of the setting by name and a uuid parsed
from text: ~0.9 us each, as much as the INSERT of the raw rows cost without row-level security.
As a scalar subquery, `(SELECT nullif(...)::uuid)`, the same expression is an InitPlan: evaluated
once when the statement first needs it, its value then reused for every row. Which rows a tenant
sees or may write is unchanged, including none when no tenant is set (NULL).

Every policy of that name is altered in place, the statement series' daily partitions included, and
the function that creates those partitions gives new ones the same policy. The migration holds
that function's lock while it reads and alters the policies; a call already waiting for it still
runs the text it started with, and so may give one partition the old form, which is as strict (a
downgrade then names it). A policy whose expression is not exactly the expected one is an error,
not a silent rewrite.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05
"""

from __future__ import annotations

import re
from types import ModuleType

import sqlalchemy as sa
from alembic import op

from migrations.revision_files import load_revision

revision = "0020"
down_revision: str | None = "0019"
branch_labels: str | None = None
depends_on: str | None = None

POLICY = "tenant_isolation"
PER_ROW = "nullif(current_setting('app.tenant_id', true), '')::uuid"
ONCE = f"(SELECT {PER_ROW})"
# A policy as pg_policies prints it, `(<key> = <the tenant>)`, and each form of the tenant as it is
# printed there (PostgreSQL 15 and 18 alike): anything else is not this revision's to rewrite.
_POLICY = re.compile(r"\((\w+) = (.*)\)")
_TENANT_PRINTED = "(NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid"
_PRINTED = {PER_ROW: _TENANT_PRINTED, ONCE: f'( SELECT {_TENANT_PRINTED} AS "nullif")'}
# Taken by the function that creates the series' partitions (0004) before it creates one.
_PARTITIONS_LOCK = (
    "SELECT pg_advisory_xact_lock(hashtextextended('optischema.statement_stats.partitions', 0))"
)


def _revision_0004() -> ModuleType:
    """0004, whose partition functions are generated here."""
    return load_revision("0004_statement_rollups.py")


def _rewrite(old: str, new: str) -> None:
    r0004 = _revision_0004()
    schema = r0004._current_schema()
    r0004._run(_PARTITIONS_LOCK)
    policies = op.get_bind().execute(
        sa.text(
            "SELECT tablename, qual, with_check FROM pg_policies WHERE schemaname = :schema AND policyname = :policy"
        ),
        {"schema": schema, "policy": POLICY},
    )
    for table, qual, check in policies:
        found = _POLICY.fullmatch(qual or "")
        if found is None or found.group(2) != _PRINTED[old] or qual != check:
            raise RuntimeError(
                f"{schema}.{table}: unexpected {POLICY} policy: USING {qual} WITH CHECK {check}"
            )
        key = found.group(1)
        r0004._run(
            f'ALTER POLICY {POLICY} ON {schema}."{table}" USING ({key} = {new}) WITH CHECK ({key} = {new})'
        )
    # The series of 0011: 0004's two tables and the daily rollups, stored as the hourly ones.
    series = {**r0004.SERIES, "statement_daily_rollups": r0004.SERIES["statement_rollups"]}
    for create in r0004._partition_functions(schema, series, tenant=new).values():
        r0004._run(create)  # CREATE OR REPLACE keeps the owner and the EXECUTE grants of 0002


def upgrade() -> None:
    _rewrite(PER_ROW, ONCE)


def downgrade() -> None:
    _rewrite(ONCE, PER_ROW)
