"""Whether the latest snapshot still bears out a drop_index recommendation.

One rule for both places that ask: approving answers 409 with the reason (control_plane.changes),
and the recommendation's `allowed_actions` leaves out `approve`, with the same reason in
`approve_refusal`, so that the dashboard never offers a button the API would refuse.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.index_health.repository import IndexHealthRepository
from control_plane.models import Recommendation
from control_plane.tenancy.context import TenantContext
from shared.index_findings import IndexKind, classified_index_findings, finding_id, finding_kind
from shared.wire.snapshot import IndexStats


def agents_kind(index: IndexStats, drop: Recommendation) -> IndexKind | None:
    """The kind of a finding only the agent can make, while the latest snapshot still bears it out.

    Its reason gives the kind. Unused holds while the index has no scan (a monthly job may have run
    since). A duplicate is the agent's to judge only for partial and expression indexes, compared by
    the raw definitions only it reads; any other kind the control plane judges itself above, so a
    finding of it that the control plane no longer makes is out of date (its twin was dropped).
    """
    kind = finding_kind(drop.rationale)
    if kind == "unused":
        return kind if index.idx_scan == 0 else None
    if kind == "duplicate" and (index.is_partial or "expr" in index.columns):
        return kind
    return None


def drop_refusal_in(indexes: Sequence[IndexStats], drop: Recommendation) -> str | None:
    """Why `indexes` (the latest snapshot's) no longer bear out the drop, None while they do."""
    index = next((found for found in indexes if finding_id(found) == drop.stable_key), None)
    if index is None:
        return "the latest snapshot no longer has this index (dropped or renamed since): nothing to drop"
    classified = classified_index_findings(indexes, stats_age=None)
    if any(found.recommendation.id == drop.stable_key for found in classified):
        return None
    if agents_kind(index, drop) is not None:
        return None
    return (
        f"the latest snapshot no longer bears this out: {index.schema_name}.{index.name} has "
        f"{index.idx_scan} scans and no twin it duplicates; reject it, or wait for a new finding"
    )


async def stale_drops(
    session: AsyncSession, context: TenantContext, database_id: uuid.UUID, rows: Sequence[Recommendation]
) -> dict[uuid.UUID, str]:
    """Of `rows`, the proposed drop_index recommendations the latest snapshot no longer bears out,
    with the reason; one read of the snapshot for all of them, none when there is no such row."""
    drops = [row for row in rows if row.kind == "drop_index" and row.status == "proposed"]
    if not drops:
        return {}
    indexes = await IndexHealthRepository(session, context, database_id).latest_indexes()
    refusals = {drop.id: drop_refusal_in(indexes, drop) for drop in drops}
    return {key: reason for key, reason in refusals.items() if reason is not None}
