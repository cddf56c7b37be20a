"""When a recommendation's evidence was measured (`recommendations.evidence_at`), and an index that
reads one object's audit events in order (a recommendation's timeline).

The evidence (the statements served, their calls and costs) is refreshed whenever a newer snapshot
reports the same finding; `evidence_at` is the time it was measured (the snapshot's `collected_at`,
or the time a proof or an analysis produced it), so a card can say how old "325 calls" is, and a
snapshot resent late by an agent's spool never overwrites newer evidence with older. No new table,
so row-level security and grants are unchanged (the app role's table grants cover the new column).

`GET /recommendations/{id}` lists the recommendation's audit events, oldest first: without the index
on (tenant_id, object, at) that read would scan the tenant's whole trail (every sign-in included).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column(
        "recommendations",
        sa.Column("evidence_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    # Until now a refresh bumped `updated_at`, and only proposed rows are refreshed; a row people have
    # moved on was last refreshed no later than its approval (and `updated_at` moved with the status).
    op.execute(
        sa.text(
            "UPDATE recommendations SET evidence_at = CASE WHEN status = 'proposed' THEN updated_at "
            "ELSE least(updated_at, coalesce(approved_at, updated_at)) END"
        )
    )
    op.create_index("ix_audit_events_tenant_id_object_at", "audit_events", ["tenant_id", "object", "at"])


def downgrade() -> None:
    op.drop_index("ix_audit_events_tenant_id_object_at", "audit_events")
    op.drop_column("recommendations", "evidence_at")
