"""Fingerprints collated "C": compared as bytes, not through the C library's strcoll.

A fingerprint is 16 lowercase hex digits, whose order is the order of their bytes under any
collation. Under the database's default one (C.UTF-8 on Debian, en_US.UTF-8 on most managed
servers) PostgreSQL compared each pair through strcoll and sorted them without abbreviated keys.
Storing one 5,000-statement snapshot compares fingerprints some 100,000 times: the raw rows' and
rollups' keys, the catalog's, the batch's DISTINCT and sort. Measured with the ingestion_store_cost
benchmark: see the commit that added this revision.

Changing a column's collation keeps its values and rebuilds the indexes that hold it (the tables
are not rewritten; on a partitioned table, every partition's). A large metadata database spends
the index builds' time here, holding each table's lock meanwhile: run it in a quiet hour.

The migrations run in one transaction, which holds a lock on every partition and index it alters
until it commits: ~8,000 for 400 days of history. PostgreSQL's lock table is shared by every
session (max_locks_per_transaction x (max_connections + max_prepared_transactions), 6,400 by
default), and running out of it fails this and any other transaction that needs one more. So this
revision counts first, and refuses to take more than half of it, saying what to raise: with the
defaults, from ~170 days of history on.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from migrations.lock_budget import check_lock_table

revision = "0019"
down_revision: str | None = "0018"
branch_labels: str | None = None
depends_on: str | None = None

TABLES = (
    "statements",
    "statement_stats",
    "statement_rollups",
    "statement_daily_rollups",
    "statement_running_totals",
    "plans",
    "analysed_statements",
    "analysis_suggestions",
    "llm_answers",
)


def _collate(collation: str) -> None:
    for table in TABLES:
        op.execute(sa.text(f'ALTER TABLE {table} ALTER COLUMN fingerprint TYPE text COLLATE "{collation}"'))


def _check_lock_table() -> None:
    check_lock_table("0019", TABLES, "the fingerprint columns' tables, their partitions and indexes")


def upgrade() -> None:
    _check_lock_table()
    _collate("C")


def downgrade() -> None:
    _check_lock_table()
    _collate("default")
