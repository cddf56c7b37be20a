"""An applied index makes some open index ideas pointless: those move to `superseded`.

A B-tree on (a, b, c) serves every lookup a B-tree on (a) or (a, b) would, so once the covering
`order_items (product_id, quantity, order_id)` is applied, building the narrow
`order_items (product_id)` would only add a redundant index to write on every insert. The rule is
deliberately narrow, because superseding an idea that still had value would hide it:

- both are plain `create_index` B-trees on the same table (another access method, a partial index,
  or a unique one answers a different question);
- the open one's key columns are a prefix of the applied one's (identical keys included), and it
  has no INCLUDE columns or operator classes (those serve index-only scans or operators the applied
  one may not).

Run in the transaction that records the apply (control_plane.changes.outcomes), audited per row;
a rollback of the applied index reopens what it superseded.
"""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.changes.lifecycle import REOPEN_SUPERSEDED, SUPERSEDE
from control_plane.changes.repository import ChangeRepository
from control_plane.changes.trail import record_move
from control_plane.models import Recommendation
from control_plane.tenancy.context import TenantContext

_ACCESS_METHOD = re.compile(r"\bUSING\s+(\w+)", re.IGNORECASE)
_UNIQUE = re.compile(r"^\s*CREATE\s+UNIQUE\b", re.IGNORECASE)
_PREDICATE = re.compile(r"\bWHERE\b", re.IGNORECASE)
_EXTRAS = re.compile(r"\bINCLUDE\b|_ops\b", re.IGNORECASE)


def _plain_btree(sql: str) -> bool:
    method = _ACCESS_METHOD.search(sql)
    plain = method is None or method.group(1).lower() == "btree"
    return plain and not _UNIQUE.search(sql) and not _PREDICATE.search(sql)


def _table(name: str | None) -> str | None:
    """`order_items` and `public.order_items` are one table (the agent names the schema; rules may not)."""
    if name is None:
        return None
    return name if "." in name else f"public.{name}"


def makes_pointless(applied: Recommendation, other: Recommendation) -> bool:
    """Whether the applied index serves everything `other` would: see the module's rule."""
    if applied.id == other.id or applied.kind != "create_index" or other.kind != "create_index":
        return False
    if _table(applied.table_name) is None or _table(applied.table_name) != _table(other.table_name):
        return False
    if not (_plain_btree(applied.sql) and _plain_btree(other.sql)) or _EXTRAS.search(other.sql):
        return False
    keys, narrower = list(applied.columns), list(other.columns)
    return bool(narrower) and keys[: len(narrower)] == narrower


async def supersede_overlapping(
    session: AsyncSession, context: TenantContext, applied: Recommendation
) -> None:
    """Moves the open index ideas `applied` makes pointless to `superseded`, each audited."""
    changes = ChangeRepository(session, context)
    for other in await changes.open_index_ideas(applied.database_id):
        if not makes_pointless(applied, other):
            continue
        moved = await changes.transition(
            other.id,
            SUPERSEDE,
            values={
                "superseded_by": applied.id,
                "status_reason": f"superseded by the applied index {applied.table_name} "
                f"({', '.join(applied.columns)}): this one would be redundant",
            },
        )
        if moved is not None:
            await record_move(session, context, SUPERSEDE, moved, {"superseded_by": str(applied.id)})


async def reopen_superseded(
    session: AsyncSession, context: TenantContext, rolled_back: Recommendation
) -> None:
    """The index that superseded them is gone again: the ideas it made pointless are open again."""
    changes = ChangeRepository(session, context)
    for other in await changes.superseded_by(rolled_back.id):
        moved = await changes.transition(
            other.id, REOPEN_SUPERSEDED, values={"superseded_by": None, "status_reason": None}
        )
        if moved is not None:
            await record_move(
                session, context, REOPEN_SUPERSEDED, moved, {"rolled_back": str(rolled_back.id)}
            )
