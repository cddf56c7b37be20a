"""A sum of bigint that stays bigint: `optischema_int8_sum(bigint)`, the bigint `+` as an aggregate.

`sum(bigint)` is numeric, built per group from a 128-bit state and cast back to bigint where it is
stored. Ingestion's rollups and the top-queries read add up bigint counters with this one instead
(control_plane/db/counter_sums.py says why and what it saved). `int8pl` is strict, so NULLs are
skipped and a sum of no rows is NULL, as sum's; an overflow is an error, as storing a numeric sum
that does not fit a bigint column was.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0022"
down_revision: str | None = "0021"
branch_labels: str | None = None
depends_on: str | None = None

# In the metadata schema (the connection's current schema, as every table of it), executable by
# PUBLIC as a function is by default: it reads nothing, and `+` is everyone's. Named here, not
# imported: a revision stays as it was applied.
AGGREGATE = "optischema_int8_sum"


def upgrade() -> None:
    op.execute(
        f"CREATE AGGREGATE {AGGREGATE}(bigint)"
        " (SFUNC = int8pl, STYPE = bigint, COMBINEFUNC = int8pl, PARALLEL = SAFE)"
    )


def downgrade() -> None:
    op.execute(f"DROP AGGREGATE {AGGREGATE}(bigint)")
