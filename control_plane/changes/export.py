"""Approved changes for teams that ship schema changes through code review.

Two forms of the same list (approved, applying and applied changes, in the order they were
approved): a plain SQL migration with each change's rollback beside it as a comment, and an
Alembic revision. CREATE/DROP INDEX CONCURRENTLY cannot run inside a transaction, so the revision
runs each statement in `op.get_context().autocommit_block()`. Both are text: nothing here runs them.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from control_plane.models import MonitoredDatabase, Recommendation


def _comment(text: str) -> str:
    return " ".join(text.split())


def sql_migration(database: MonitoredDatabase, changes: list[Recommendation], now: datetime) -> str:
    lines = [
        f"-- OptiSchema: approved changes for database {_comment(database.name)!r} ({database.id})",
        f"-- Exported {now.isoformat(timespec='seconds')}. Each statement runs on its own, outside a",
        "-- transaction block (CONCURRENTLY); psql runs them that way with autocommit on.",
        "",
    ]
    if not changes:
        lines.append("-- No approved changes.")
    for change in changes:
        lines += [
            f"-- Recommendation {change.id} ({change.kind}, {change.status}): {_comment(change.rationale)}",
            change.sql.strip().rstrip(";") + ";",
        ]
        if change.rollback_sql:
            lines.append(f"-- Rollback: {_comment(change.rollback_sql.strip().rstrip(';'))};")
        lines.append("")
    return "\n".join(lines)


def revision_id(database: MonitoredDatabase, changes: list[Recommendation]) -> str:
    """Stable for the same changes, so exporting twice gives the same revision."""
    digest = hashlib.sha256(str(database.id).encode())
    for change in changes:
        digest.update(str(change.id).encode())
    return "optischema_" + digest.hexdigest()[:12]


def _executes(statements: list[str], indent: str) -> list[str]:
    if not statements:
        return [f"{indent}pass"]
    return [f"{indent}op.execute({statement!r})" for statement in statements]


def alembic_revision(database: MonitoredDatabase, changes: list[Recommendation], now: datetime) -> str:
    ups = [change.sql.strip().rstrip(";") for change in changes]
    downs = [change.rollback_sql.strip().rstrip(";") for change in reversed(changes) if change.rollback_sql]
    listed = "\n".join(f"- {change.id}: {_comment(change.rationale)}" for change in changes) or "- none"
    revision = revision_id(database, changes)
    return "\n".join(
        [
            f'"""OptiSchema: approved changes for database {_comment(database.name)!r}',
            "",
            listed.replace('"""', "'''"),
            "",
            f"Revision ID: {revision}",
            "Revises: set down_revision to your current head",
            f"Create Date: {now.isoformat(timespec='seconds')}",
            '"""',
            "",
            "from alembic import op",
            "",
            f"revision = {revision!r}",
            "down_revision = None  # set to your current head",
            "branch_labels = None",
            "depends_on = None",
            "",
            "",
            "def upgrade() -> None:",
            "    # CONCURRENTLY cannot run inside a transaction block.",
            "    with op.get_context().autocommit_block():",
            *_executes(ups, " " * 8),
            "",
            "",
            "def downgrade() -> None:",
            "    with op.get_context().autocommit_block():",
            *_executes(downs, " " * 8),
            "",
        ]
    )
