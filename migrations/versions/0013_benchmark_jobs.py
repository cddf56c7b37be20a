"""Benchmarked recommendations (issue 16): the `benchmark_index` job kind and its evidence.

* `agent_jobs.kind` admits `benchmark_index`: a verified index built and timed on the agent's
  sandbox copy of the database.
* `recommendations.tier` admits `benchmarked` (the real run confirmed the gain) and `demoted` (HypoPG
  liked it, the real run did not); `recommendations.benchmark` holds the measured figures and the
  verdict (control_plane.benchmarks), null until a benchmark answered.
* `monitored_databases.agent_sandbox`: the agent's heartbeat said it has a sandbox, so benchmark
  jobs may be queued for it.

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None

OLD_JOB_KINDS = ("simulate_indexes", "judge_rewrite", "apply", "rollback")
JOB_KINDS = (*OLD_JOB_KINDS, "benchmark_index")
OLD_TIERS = ("verified", "estimated", "advisory", "measured")
TIERS = (*OLD_TIERS, "benchmarked", "demoted")
KIND_MARKER = "%kind%judge_rewrite%"
TIER_MARKER = "%tier%advisory%"


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _replace_check(table: str, name: str, condition: str, marker: str) -> None:
    # As 0007 does: 0003 created the check inside create_table, where the naming convention may have
    # prefixed its name again, so it is found by what it checks (`marker`), not by a guessed name.
    found = op.get_bind().scalars(
        sa.text(
            "SELECT conname FROM pg_constraint WHERE conrelid = CAST(:table AS regclass) "
            "AND contype = 'c' AND pg_get_constraintdef(oid) LIKE :marker"
        ),
        {"table": table, "marker": marker},
    )
    for old in list(found):
        op.execute(sa.text(f'ALTER TABLE {table} DROP CONSTRAINT "{old}"'))
    op.execute(sa.text(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({condition})"))


def upgrade() -> None:
    _replace_check("agent_jobs", "ck_agent_jobs_kind", _one_of("kind", JOB_KINDS), KIND_MARKER)
    _replace_check("recommendations", "ck_recommendations_tier", _one_of("tier", TIERS), TIER_MARKER)
    op.add_column("recommendations", sa.Column("benchmark", postgresql.JSONB(), nullable=True))
    op.add_column(
        "monitored_databases",
        sa.Column("agent_sandbox", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("monitored_databases", "agent_sandbox")
    op.drop_column("recommendations", "benchmark")
    op.execute("UPDATE recommendations SET tier = 'verified' WHERE tier IN ('benchmarked', 'demoted')")
    _replace_check("recommendations", "ck_recommendations_tier", _one_of("tier", OLD_TIERS), TIER_MARKER)
    op.execute("DELETE FROM agent_jobs WHERE kind = 'benchmark_index'")
    _replace_check("agent_jobs", "ck_agent_jobs_kind", _one_of("kind", OLD_JOB_KINDS), KIND_MARKER)
