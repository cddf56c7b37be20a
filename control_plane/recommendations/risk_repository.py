"""What the risk of an index change is read from: the latest schema context, and the write
statements of the latest snapshots. Tenant-scoped, read only."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.tenancy.context import TenantContext
from shared.wire.snapshot import IndexStats, TableStats

WRITE_STATEMENT_TYPES = ("insert", "update", "delete", "merge")

# The latest schema context's entries for the few tables and indexes asked for, picked out by
# PostgreSQL: a database of a thousand tables has megabytes of them, not for Python to decode.
_TABLES = text("""
    SELECT t FROM database_schemas d CROSS JOIN LATERAL jsonb_array_elements(d.tables) AS t
     WHERE d.tenant_id = :tenant_id AND d.database_id = :database_id
       AND (t ->> 'schema_name') || '.' || (t ->> 'name') = ANY(CAST(:names AS text[]))
""")
_INDEXES = text("""
    SELECT i FROM database_schemas d CROSS JOIN LATERAL jsonb_array_elements(d.indexes) AS i
     WHERE d.tenant_id = :tenant_id AND d.database_id = :database_id
       AND i ->> 'name' = ANY(CAST(:names AS text[]))
""")

# The latest delta snapshot: counters over a known number of seconds (a `since_reset` one covers an
# unknown span and says nothing about a rate).
_LATEST_DELTA = text("""
    SELECT max(collected_at) FROM snapshots
     WHERE tenant_id = :tenant_id AND database_id = :database_id
       AND interval_kind = 'delta' AND interval_seconds > 0
""")
# The seconds the window's snapshots cover. A snapshot split in parts (agent/ship/split.py) stores
# each part with the whole interval: one interval per collected_at.
_COVERED_SECONDS = text("""
    SELECT sum(interval_seconds) FROM (
        SELECT DISTINCT collected_at, interval_seconds FROM snapshots
         WHERE tenant_id = :tenant_id AND database_id = :database_id
           AND interval_kind = 'delta' AND interval_seconds > 0
           AND collected_at > :since AND collected_at <= :until
    ) AS intervals
""")
# Rows written per relation name: the catalog's write statements that name one of `names`, then
# their interval rows in the window's delta snapshots, a probe of the key (collected_at,
# fingerprint) per snapshot and statement (see control_plane/queries/intervals.py).
_ROWS_WRITTEN = text("""
    WITH writes AS (
        SELECT c.fingerprint, rel.relation
          FROM statements c
          CROSS JOIN LATERAL unnest(c.relations) AS rel(relation)
         WHERE c.tenant_id = :tenant_id AND c.database_id = :database_id
           AND c.statement_type = ANY(CAST(:types AS text[]))
           AND rel.relation = ANY(CAST(:names AS text[]))
    )
    SELECT w.relation, sum(st.rows)
      FROM snapshots s
      JOIN statement_stats st
        ON st.tenant_id = s.tenant_id AND st.database_id = s.database_id AND st.snapshot_id = s.snapshot_id
       AND st.collected_at = s.collected_at
      JOIN writes w ON w.fingerprint = st.fingerprint
     WHERE s.tenant_id = :tenant_id AND s.database_id = :database_id
       AND s.collected_at > :since AND s.collected_at <= :until
       AND s.interval_kind = 'delta' AND s.interval_seconds > 0
       AND st.tenant_id = :tenant_id AND st.database_id = :database_id
       AND st.collected_at > :since AND st.collected_at <= :until
     GROUP BY w.relation
""")


@dataclass(frozen=True)
class WritesMeasured:
    """Rows written per relation name (as statements spell it) over `seconds` of snapshots."""

    rows_by_relation: dict[str, int]
    seconds: float


class RiskReadings:
    def __init__(self, session: AsyncSession, context: TenantContext, database_id: uuid.UUID) -> None:
        self._session = session
        self._keys = {"tenant_id": context.tenant_id, "database_id": database_id}

    async def tables(self, qualified_names: Collection[str]) -> dict[str, TableStats]:
        """The latest snapshot's statistics of these tables (`schema.table`), by that name."""
        if not qualified_names:
            return {}
        found = await self._session.scalars(_TABLES, {**self._keys, "names": sorted(qualified_names)})
        tables = [TableStats.model_validate(table) for table in found]
        return {f"{table.schema_name}.{table.name}": table for table in tables}

    async def indexes(self, names: Collection[str]) -> list[IndexStats]:
        """The latest snapshot's indexes with these names (in any schema)."""
        if not names:
            return []
        found = await self._session.scalars(_INDEXES, {**self._keys, "names": sorted(names)})
        return [IndexStats.model_validate(index) for index in found]

    async def writes(self, relation_names: Collection[str], window: timedelta) -> WritesMeasured | None:
        """The rows the write statements naming `relation_names` changed in the `window` up to the
        latest delta snapshot; None when there is no such snapshot."""
        until: datetime | None = await self._session.scalar(_LATEST_DELTA, self._keys)
        if until is None:
            return None
        bounds = {**self._keys, "since": until - window, "until": until}
        seconds = await self._session.scalar(_COVERED_SECONDS, bounds)
        if not seconds:
            return None
        rows_by_relation: dict[str, int] = {}
        if relation_names:
            found = await self._session.execute(
                _ROWS_WRITTEN,
                {**bounds, "types": list(WRITE_STATEMENT_TYPES), "names": sorted(relation_names)},
            )
            rows_by_relation = {str(name): int(rows or 0) for name, rows in found}
        return WritesMeasured(rows_by_relation=rows_by_relation, seconds=float(seconds))
