"""The snapshot inbox's SQL: accepting a body, a worker's claim on a batch, and what follows it.

A claim is a row lock (`FOR UPDATE SKIP LOCKED`) on each entry of the batch, in the transaction
that stores the snapshots and deletes the entries: if the worker dies or the transaction rolls back, the lock goes with it and the
entry is claimable again; if it commits, the entry is gone and the snapshot stored, exactly once.
Concurrent workers skip each other's entries instead of waiting for them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.tenancy.context import TenantContext

# The snapshot may be stored already (its entry then deleted): that is a resend as much as an entry
# still waiting here. A resend racing the worker that stores the first copy gets in here at worst,
# and is then found stored and dropped (the `snapshots` primary key decides).
_ACCEPT = text("""
    INSERT INTO snapshot_inbox (tenant_id, database_id, snapshot_id, body, content_encoding)
    SELECT :tenant_id, :database_id, :snapshot_id, :body, :content_encoding
     WHERE NOT EXISTS (SELECT 1 FROM snapshots s
                        WHERE s.tenant_id = :tenant_id AND s.database_id = :database_id
                          AND s.snapshot_id = :snapshot_id)
    ON CONFLICT DO NOTHING
    RETURNING snapshot_id
""")
_CLAIM = text("""
    SELECT database_id, snapshot_id, body, content_encoding, attempts FROM snapshot_inbox
     WHERE tenant_id = :tenant_id AND not_before <= now()
     ORDER BY not_before, received_at
     LIMIT 1
       FOR UPDATE SKIP LOCKED
""")
# A batch is one database's entries (see inbox_worker): the oldest due entry names the database, and
# up to :limit of its due entries come with it, oldest first. The first is locked by the CTE and
# taken again by the outer query (a lock this transaction holds is not skipped); another worker's
# locks are skipped in both, so two workers never wait for each other here.
_CLAIM_BATCH = text("""
    WITH first AS (
        SELECT database_id FROM snapshot_inbox
         WHERE tenant_id = :tenant_id AND not_before <= now()
         ORDER BY not_before, received_at
         LIMIT 1
           FOR UPDATE SKIP LOCKED
    )
    SELECT database_id, snapshot_id, body, content_encoding, attempts FROM snapshot_inbox
     WHERE tenant_id = :tenant_id AND database_id = (SELECT database_id FROM first) AND not_before <= now()
     ORDER BY not_before, received_at
     LIMIT :limit
       FOR UPDATE SKIP LOCKED
""")
_DELETE = text("""
    DELETE FROM snapshot_inbox
     WHERE tenant_id = :tenant_id AND database_id = :database_id AND snapshot_id = :snapshot_id
""")
_DELETE_MANY = text("""
    DELETE FROM snapshot_inbox
     WHERE tenant_id = :tenant_id AND database_id = :database_id AND snapshot_id = ANY(:snapshot_ids)
""")
_POSTPONE = text("""
    UPDATE snapshot_inbox
       SET attempts = attempts + 1, last_error = :error, not_before = now() + CAST(:delay AS interval)
     WHERE tenant_id = :tenant_id AND database_id = :database_id AND snapshot_id = :snapshot_id
""")


@dataclass(frozen=True)
class InboxEntry:
    """A claimed body, locked until the claiming transaction ends."""

    database_id: uuid.UUID
    snapshot_id: uuid.UUID
    body: bytes
    content_encoding: str | None
    attempts: int


class SnapshotInbox:
    def __init__(self, session: AsyncSession, context: TenantContext) -> None:
        self._session = session
        self._tenant_id = context.tenant_id

    async def accept(
        self, database_id: uuid.UUID, snapshot_id: uuid.UUID, body: bytes, content_encoding: str | None
    ) -> bool:
        """Keeps the body for a worker; False when this snapshot_id is waiting or stored already."""
        accepted = await self._session.scalar(
            _ACCEPT,
            {
                "tenant_id": self._tenant_id,
                "database_id": database_id,
                "snapshot_id": snapshot_id,
                "body": body,
                "content_encoding": content_encoding,
            },
        )
        return accepted is not None

    async def claim(self) -> InboxEntry | None:
        """The tenant's oldest due entry no other transaction holds, locked; None when there is none."""
        row = (await self._session.execute(_CLAIM, {"tenant_id": self._tenant_id})).one_or_none()
        if row is None:
            return None
        return InboxEntry(
            database_id=row.database_id,
            snapshot_id=row.snapshot_id,
            body=bytes(row.body),
            content_encoding=row.content_encoding,
            attempts=row.attempts,
        )

    async def claim_batch(self, limit: int) -> list[InboxEntry]:
        """Up to `limit` due entries of one database, oldest first, locked; [] when none is left."""
        rows = (
            await self._session.execute(_CLAIM_BATCH, {"tenant_id": self._tenant_id, "limit": limit})
        ).all()
        return [
            InboxEntry(
                database_id=row.database_id,
                snapshot_id=row.snapshot_id,
                body=bytes(row.body),
                content_encoding=row.content_encoding,
                attempts=row.attempts,
            )
            for row in rows
        ]

    async def delete(self, entry: InboxEntry) -> None:
        await self._session.execute(_DELETE, self._key(entry))

    async def delete_many(self, entries: list[InboxEntry]) -> None:
        """Deletes these entries, all of one database (a batch, see claim_batch)."""
        if not entries:
            return
        (database_id,) = {entry.database_id for entry in entries}
        await self._session.execute(
            _DELETE_MANY,
            {
                "tenant_id": self._tenant_id,
                "database_id": database_id,
                "snapshot_ids": [entry.snapshot_id for entry in entries],
            },
        )

    async def postpone(self, entry: InboxEntry, error: str, delay: timedelta) -> None:
        """Records a failed attempt; the entry is claimable again after `delay`."""
        await self._session.execute(_POSTPONE, {**self._key(entry), "error": error[:500], "delay": delay})

    def _key(self, entry: InboxEntry) -> dict[str, object]:
        return {
            "tenant_id": self._tenant_id,
            "database_id": entry.database_id,
            "snapshot_id": entry.snapshot_id,
        }


async def tenants_with_inbox(session: AsyncSession) -> list[uuid.UUID]:
    """In a lookup session: the tenants with entries due (see migration 0014)."""
    rows = await session.scalars(text("SELECT optischema_tenants_with_snapshot_inbox()"))
    return list(rows)
