"""Privacy mode of a monitored database (issue 15): `monitored_databases.privacy_mode`.

'pseudonyms' once the agent's snapshot or heartbeat says it sends keyed pseudonyms instead of schema
object names; 'off' otherwise (every database before this revision). The dashboard labels such a
database: everything stored for it names only pseudonyms, and the key never leaves the agent.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision: str | None = "0015"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column(
        "monitored_databases",
        sa.Column("privacy_mode", sa.Text(), nullable=False, server_default="off"),
    )
    # Spelled out: the name the model's naming convention gives it, whatever alembic's op would add.
    op.execute(
        "ALTER TABLE monitored_databases ADD CONSTRAINT ck_monitored_databases_privacy_mode "
        "CHECK (privacy_mode IN ('off', 'pseudonyms'))"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE monitored_databases DROP CONSTRAINT ck_monitored_databases_privacy_mode")
    op.drop_column("monitored_databases", "privacy_mode")
