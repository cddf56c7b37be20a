"""A revision that alters partitioned tables whole counts the locks it will hold before it starts.

The migrations run in one transaction, which holds a lock on every partition and index it alters
until it commits: ~8,000 for 400 days of the statement series. PostgreSQL's lock table is shared by
every session (max_locks_per_transaction x (max_connections + max_prepared_transactions), 6,400 by
default), and running out of it fails the migration and any other transaction that needs one more
lock. So such a revision refuses, before changing anything, to take more than half of it, and says
what to raise.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# The relations altering `tables` locks, at most: each table and its partitions at every level,
# the TOAST table of each and its index, and each of their indexes twice (the one dropped and the
# one built in its place). For 63 days of partitions of 0019's tables: 1,191 counted, ~1,100 held.
_RELATIONS_LOCKED = """
    WITH relations AS (
        SELECT tree.relid FROM unnest(CAST(:tables AS text[])) AS t(name),
               pg_partition_tree(to_regclass(t.name)) AS tree
    )
    SELECT (SELECT count(*) FROM relations)
         + 2 * (SELECT count(*) FROM relations r JOIN pg_class c ON c.oid = r.relid WHERE c.reltoastrelid <> 0)
         + 2 * (SELECT count(*) FROM pg_index i JOIN relations r ON i.indrelid = r.relid)
"""
_LOCK_TABLE = """
    SELECT current_setting('max_locks_per_transaction')::int,
           current_setting('max_connections')::int + current_setting('max_prepared_transactions')::int
"""


def check_lock_table(revision: str, tables: Sequence[str], what: str) -> None:
    """Raises, naming the setting to raise, if altering `tables` (described as `what`) would hold
    more than half of the server's lock table."""
    bind = op.get_bind()
    needed = int(bind.execute(sa.text(_RELATIONS_LOCKED), {"tables": list(tables)}).scalar_one())
    per_transaction, slots = bind.execute(sa.text(_LOCK_TABLE)).one()
    if needed > per_transaction * slots // 2:
        at_least = -(-2 * needed // slots)  # rounded up
        raise RuntimeError(
            f"revision {revision} locks {needed} relations ({what}) in one transaction, more than half "
            f"of this server's lock table (max_locks_per_transaction {per_transaction} x {slots} "
            f"connections): set max_locks_per_transaction to at least {at_least}, restart PostgreSQL "
            f"and migrate again"
        )
