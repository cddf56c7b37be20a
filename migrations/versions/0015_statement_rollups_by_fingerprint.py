"""The hourly rollups of one statement over a range: an index led by the fingerprint.

The primary key of `statement_rollups` is (tenant, database, bucket, fingerprint): one statement's
hours over 30 days are found by reading every entry of every hour of the range, ~29,000 pages for a
10,000-statement database (690 ms for the query detail's hourly series). Led by the fingerprint, the
same 720 rows are 720 index entries and heap fetches: 11 ms. Only ingestion's first row of a
statement in an hour adds an entry; its later updates change no indexed column and stay HOT.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision: str | None = "0014"
branch_labels: str | None = None
depends_on: str | None = None

INDEX = "ix_statement_rollups_tenant_id_database_id_fingerprint_bucket"


def upgrade() -> None:
    op.create_index(INDEX, "statement_rollups", ["tenant_id", "database_id", "fingerprint", "bucket"])


def downgrade() -> None:
    op.drop_index(INDEX, "statement_rollups")
