"""Storing a batch of one database's snapshots: a handful of statements, never one round trip (or
one bind set) per row.

The statements' counters reach PostgreSQL as one binary COPY into a temporary table (batch_rows),
from which one statement writes the raw rows and the rollups (series_sql); the catalog's new
statements go in as `INSERT ... SELECT FROM unnest(<one array per column>)`. Neither is an
executemany, whose thousands of bind sets SQLAlchemy would build and process in Python. The COPY
data is built in a worker thread, off the event loop.
"""

from __future__ import annotations

import operator
import uuid
from datetime import UTC, datetime, timedelta

import anyio
from sqlalchemy import Text, TextClause, cast, literal, text
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.db.engine import json_text
from control_plane.db.session import UNIQUE_VIOLATION, copy_binary, sqlstate
from control_plane.ingestion.batch_rows import (
    BATCH_ROWS_TABLE,
    CREATE_BATCH_ROWS,
    EMPTY_BATCH_ROWS,
    copy_data,
)
from control_plane.ingestion.payload import INDEX_STATS_JSON, TABLE_STATS_JSON, DecodedSnapshot
from control_plane.ingestion.series_sql import DailyPart, insert_stats_and_rollups
from control_plane.ingestion.statement_rows import StatementRow
from control_plane.models import DatabaseSchema
from control_plane.tenancy.context import TenantContext
from shared.wire.snapshot import IndexStats, PlanSample, Snapshot, TableStats

ROLLUP_BUCKET = timedelta(hours=1)
# `statements.last_seen_at` is kept to within this: a known statement's row is rewritten at most
# once per this period, not on every snapshot.
LAST_SEEN_PRECISION = timedelta(hours=1)
DUPLICATE_TABLE = "42P07"
_PARTITION_ATTEMPTS = 3
# Read off 5,000 rows without a generator's frame per row: ~0.3 ms a snapshot instead of ~1.
_CALLS = operator.attrgetter("calls")
_TOTAL_EXEC_TIME_MS = operator.attrgetter("total_exec_time_ms")


def rollup_bucket(at: datetime) -> datetime:
    """The start of the UTC hour `at` falls in: the `statement_rollups.bucket` its rows add to."""
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def daily_bucket(at: datetime) -> datetime:
    """The UTC midnight that starts the day `at` falls in: the `statement_daily_rollups.bucket`."""
    return at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _first_described(batch: list[DecodedSnapshot], fingerprints: set[str]) -> dict[str, StatementRow]:
    """Of each of these fingerprints, its row whole (text, type, relations) from the first snapshot
    of the batch that has it with its text: only snapshots holding one are decoded whole (see
    payload). One sent without its text in every snapshot of the batch is not found (see
    store_statements)."""
    found: dict[str, StatementRow] = {}
    for decoded in batch:
        if any(
            row.fingerprint in fingerprints and row.fingerprint not in found for row in decoded.statements
        ):
            for row in decoded.described():
                if row.fingerprint in fingerprints and row.query is not None:
                    found.setdefault(row.fingerprint, row)
    return found


# asyncpg prepares every statement, and after five runs PostgreSQL may switch to a generic plan,
# one made without the parameters' values: it takes each array for 10 elements, and has chosen a
# nested loop that compares 5,000 fingerprints with 5,000 (half a second) where the plan made with
# the array in hand hashes them (5 ms). For the rest of the ingesting transaction, plan each time.
_CUSTOM_PLANS = text("SET LOCAL plan_cache_mode = force_custom_plan")
_CREATE_BATCH_ROWS = text(CREATE_BATCH_ROWS)
_EMPTY_BATCH_ROWS = text(EMPTY_BATCH_ROWS)
_BATCH_ROWS_USED = "optischema_batch_rows_used"  # in the session's info (a session is one transaction)


# The batch's fingerprints (read from the batch's table, already copied: sending them again as an
# array literal, 85 kB for 5,000, cost building it in Python and parsing it in PostgreSQL ~2 ms)
# that the catalog does not have (`new`), or has with a stale last_seen_at: one probe of the
# catalog each, and usually no row back. Until 2026-12-06 one statement also locked and bumped the
# stale ones, and so probed every fingerprint twice (for the stale, then for the unknown) after a
# DISTINCT: 3.6 -> 2.2 ms for 5,000 known statements. The fingerprints of one snapshot are distinct
# (payload refuses a repeat): only a batch of several needs the DISTINCT.
def _unknown_or_stale(distinct: bool) -> TextClause:
    given = f"(SELECT DISTINCT fingerprint FROM {BATCH_ROWS_TABLE})" if distinct else BATCH_ROWS_TABLE
    return text(f"""
        SELECT g.fingerprint, s.fingerprint IS NULL AS new
          FROM {given} AS g
          LEFT JOIN statements s
            ON s.tenant_id = :tenant_id AND s.database_id = :database_id AND s.fingerprint = g.fingerprint
         WHERE s.fingerprint IS NULL OR s.last_seen_at < now() - CAST(:stale AS interval)
    """)


_UNKNOWN_OR_STALE = {distinct: _unknown_or_stale(distinct) for distinct in (False, True)}
# The stale ones (about once an hour per statement) are locked SKIP LOCKED: a concurrent snapshot
# of the same database already touching one is setting the same now(), and nobody waits or deadlocks.
# Still stale when locked, too: one another transaction bumped since the lookup is left alone.
_SEEN = text("""
    UPDATE statements s SET last_seen_at = now()
      FROM (SELECT fingerprint FROM statements
             WHERE tenant_id = :tenant_id AND database_id = :database_id
               AND fingerprint = ANY(CAST(:fingerprints AS text[]))
               AND last_seen_at < now() - CAST(:stale AS interval)
               FOR UPDATE SKIP LOCKED) AS stale
     WHERE s.tenant_id = :tenant_id AND s.database_id = :database_id AND s.fingerprint = stale.fingerprint
""")

# The text of a fingerprint never changes (the fingerprint is a digest of it): known ones are
# skipped, and a concurrent snapshot that inserted the same fingerprint first wins.
_INSERT_STATEMENTS = text("""
    INSERT INTO statements (tenant_id, database_id, fingerprint, query, statement_type, relations)
    SELECT :tenant_id, :database_id, s.fingerprint, s.query, s.statement_type,
           ARRAY(SELECT jsonb_array_elements_text(s.relations::jsonb))
      FROM unnest(CAST(:fingerprints AS text[]), CAST(:queries AS text[]),
                  CAST(:statement_types AS text[]), CAST(:relations AS text[]))
           AS s(fingerprint, query, statement_type, relations)
    ON CONFLICT DO NOTHING
""")


# A snapshot's ~20 plans in one statement of one array per column: as an executemany SQLAlchemy
# built and compiled a VALUES list of their count each time, ~1.5 ms of a worker's CPU a snapshot.
# A resent old snapshot's plan never replaces a newer one.
_UPSERT_PLANS = text("""
    INSERT INTO plans AS p (tenant_id, database_id, fingerprint, collected_at, total_cost, plan)
    SELECT :tenant_id, :database_id, n.fingerprint, n.collected_at, n.total_cost, CAST(n.plan AS jsonb)
      FROM unnest(CAST(:fingerprints AS text[]), CAST(:collected_ats AS timestamptz[]),
                  CAST(:total_costs AS float8[]), CAST(:plans AS text[]))
           AS n(fingerprint, collected_at, total_cost, plan)
    ON CONFLICT (tenant_id, database_id, fingerprint) DO UPDATE
       SET collected_at = excluded.collected_at, total_cost = excluded.total_cost, plan = excluded.plan
     WHERE p.collected_at <= excluded.collected_at
""")


# A batch's snapshot rows in one statement of one array per column: one at a time, each was an
# INSERT built and compiled by SQLAlchemy and a round trip, ~1.2 ms of a worker's CPU a snapshot
# (py-spy) and ~1 ms of its backend's. A snapshot_id stored before is left alone (the retry of a
# batch whose commit was lost, a resend racing its first copy) and comes back as not stored.
_CLAIM_SNAPSHOTS = text("""
    INSERT INTO snapshots (tenant_id, database_id, snapshot_id, schema_version, agent_version, collected_at,
                           interval_kind, interval_seconds, reset_detected, statement_count, calls,
                           total_exec_time_ms, server, dropped)
    SELECT :tenant_id, :database_id, n.snapshot_id, n.schema_version, n.agent_version, n.collected_at,
           n.interval_kind, n.interval_seconds, n.reset_detected, n.statement_count, n.calls,
           n.total_exec_time_ms, CAST(n.server AS jsonb), CAST(n.dropped AS jsonb)
      FROM unnest(CAST(:snapshot_ids AS uuid[]), CAST(:schema_versions AS int[]), CAST(:agent_versions AS text[]),
                  CAST(:collected_ats AS timestamptz[]), CAST(:interval_kinds AS text[]),
                  CAST(:interval_seconds AS float8[]), CAST(:resets AS bool[]), CAST(:statement_counts AS int[]),
                  CAST(:calls AS int8[]), CAST(:total_exec_times_ms AS float8[]), CAST(:servers AS text[]),
                  CAST(:dropped AS text[]))
           AS n(snapshot_id, schema_version, agent_version, collected_at, interval_kind, interval_seconds,
                reset_detected, statement_count, calls, total_exec_time_ms, server, dropped)
    ON CONFLICT DO NOTHING
    RETURNING snapshot_id
""")


class IngestionRepository:
    def __init__(self, session: AsyncSession, context: TenantContext, database_id: uuid.UUID) -> None:
        self._session = session
        self._tenant_id = context.tenant_id
        self._database_id = database_id
        self._keys = {"tenant_id": context.tenant_id, "database_id": database_id}

    async def claim(self, batch: list[DecodedSnapshot]) -> list[bool]:
        """Inserts each snapshot's row, in one statement; for each, False when its snapshot_id was
        stored already (by an earlier batch, or earlier in this one)."""
        snapshots = [decoded.snapshot for decoded in batch]
        stored = set(
            (
                await self._session.scalars(
                    _CLAIM_SNAPSHOTS,
                    {
                        **self._keys,
                        "snapshot_ids": [s.snapshot_id for s in snapshots],
                        "schema_versions": [s.schema_version for s in snapshots],
                        "agent_versions": [s.agent_version for s in snapshots],
                        "collected_ats": [s.collected_at for s in snapshots],
                        "interval_kinds": [s.interval.kind for s in snapshots],
                        "interval_seconds": [s.interval.seconds for s in snapshots],
                        "resets": [s.interval.reset_detected for s in snapshots],
                        "statement_counts": [len(d.statements) for d in batch],
                        "calls": [sum(map(_CALLS, d.statements)) for d in batch],
                        "total_exec_times_ms": [sum(map(_TOTAL_EXEC_TIME_MS, d.statements)) for d in batch],
                        "servers": [s.server.model_dump_json() for s in snapshots],
                        "dropped": [s.dropped.model_dump_json() for s in snapshots],
                    },
                )
            ).all()
        )
        claimed = []
        for snapshot in snapshots:
            claimed.append(snapshot.snapshot_id in stored)
            stored.discard(snapshot.snapshot_id)  # a repeat later in the batch was stored here
        return claimed

    async def ensure_partition(self, at: datetime) -> None:
        """The day's partitions of `statement_stats` and both rollups (UTC days, as the
        partition bounds are).

        Workers store snapshots concurrently: two may find the day's partition missing and both
        create it; the second then fails (42P07 or 23505 on the catalog) once the first commits, and
        tries again in a savepoint, now finding it there.
        """
        ensure = text("SELECT optischema_ensure_statement_stats_partitions(:day, 1)")
        day = {"day": at.astimezone(UTC).date()}
        for attempt in range(_PARTITION_ATTEMPTS):
            try:
                async with self._session.begin_nested():
                    await self._session.execute(ensure, day)
                return
            except DBAPIError as error:
                if (
                    sqlstate(error) not in (DUPLICATE_TABLE, UNIQUE_VIOLATION)
                    or attempt == _PARTITION_ATTEMPTS - 1
                ):
                    raise

    async def store_statements(self, batch: list[DecodedSnapshot], folded_before: datetime | None) -> None:
        """The statement catalog, the raw interval rows and the hourly rollups of a batch of this
        database's snapshots, and the daily rollups of those whose hour is before `folded_before`
        (read under the fold lock this transaction holds, see daily_folds_repository): the same few
        statements and one COPY, whatever the number of statements or snapshots.
        """
        batch = [decoded for decoded in batch if decoded.statements]
        if not batch:
            return
        await self._session.execute(_CUSTOM_PLANS)
        rows = await anyio.to_thread.run_sync(copy_data, [d.statements for d in batch])
        await self._session.execute(_CREATE_BATCH_ROWS)
        # Empty at a transaction's start (ON COMMIT DELETE ROWS, and a rollback takes the rows too):
        # only a transaction storing a second time (a failed batch again one snapshot at a time)
        # has rows of its own to clear, a round trip the others save.
        if self._session.info.get(_BATCH_ROWS_USED):
            await self._session.execute(_EMPTY_BATCH_ROWS)
        self._session.info[_BATCH_ROWS_USED] = True
        await copy_binary(self._session, BATCH_ROWS_TABLE, rows)
        # Sorted, so that two batches of one database in flight insert catalog rows in the same order.
        new = sorted(await self._unknown_fingerprints(distinct=len(batch) > 1))
        # A statement new to the catalog whose text no snapshot of the batch carries (an agent
        # leaves out a text it sent within the hour, and the snapshot that carried it is not stored
        # yet: a failed store retried later) is catalogued when a snapshot brings its text. Its
        # counters are stored now, as every statement's are; until then no read lists it (they
        # take each statement's text from the catalog).
        described = await anyio.to_thread.run_sync(_first_described, batch, set(new)) if new else {}
        fresh = [described[fingerprint] for fingerprint in new if fingerprint in described]
        if fresh:
            await self._session.execute(
                _INSERT_STATEMENTS,
                {
                    **self._keys,
                    "fingerprints": [s.fingerprint for s in fresh],
                    "queries": [s.query for s in fresh],
                    "statement_types": [s.statement_type for s in fresh],
                    "relations": [json_text(s.relations) for s in fresh],
                },
            )
        snapshots = [decoded.snapshot for decoded in batch]
        buckets = [rollup_bucket(s.collected_at) for s in snapshots]
        # A day's rollup gets the rows of an hour the fold has passed; the fold takes the others.
        days = [
            daily_bucket(s.collected_at) if folded_before is not None and bucket < folded_before else None
            for s, bucket in zip(snapshots, buckets, strict=True)
        ]
        folded = [day for day in days if day is not None]
        daily: DailyPart = "none" if not folded else "summed" if len(set(folded)) < len(folded) else "rows"
        await self._session.execute(
            insert_stats_and_rollups(len(set(buckets)) < len(buckets), daily),
            {
                **self._keys,
                "collected_ats": [s.collected_at for s in snapshots],
                "snapshot_ids": [s.snapshot_id for s in snapshots],
                "intervals": [s.interval.seconds for s in snapshots],
                "buckets": buckets,
                "days": days,
                "hours": sorted(set(buckets)),
                "folded_days": sorted(set(folded)),
            },
        )

    async def _unknown_fingerprints(self, distinct: bool) -> list[str]:
        """The batch's fingerprints (copied into the batch's table) the catalog does not have yet;
        the known ones get `last_seen_at` bumped when it is more than LAST_SEEN_PRECISION old
        (rewriting 5,000 rows per snapshot is the cost this avoids)."""
        rows = (
            await self._session.execute(
                _UNKNOWN_OR_STALE[distinct], {**self._keys, "stale": LAST_SEEN_PRECISION}
            )
        ).all()
        stale = [row.fingerprint for row in rows if not row.new]
        if stale:
            await self._session.execute(
                _SEEN, {**self._keys, "fingerprints": stale, "stale": LAST_SEEN_PRECISION}
            )
        return [row.fingerprint for row in rows if row.new]

    async def store_plans(self, snapshots: list[Snapshot]) -> None:
        """The statements' latest plans: of a batch's snapshots, the plan of the latest one that has
        a plan for the statement (one upsert cannot touch a row twice, and an older plan loses)."""
        latest: dict[str, tuple[datetime, PlanSample]] = {}
        for snapshot in snapshots:
            for plan in snapshot.plans:
                known = latest.get(plan.fingerprint)
                if known is None or known[0] <= snapshot.collected_at:
                    latest[plan.fingerprint] = (snapshot.collected_at, plan)
        if not latest:
            return
        ordered = sorted(latest.items())  # two batches of one database lock the rows in one order
        await self._session.execute(
            _UPSERT_PLANS,
            {
                **self._keys,
                "fingerprints": [fingerprint for fingerprint, _ in ordered],
                "collected_ats": [collected_at for _, (collected_at, _) in ordered],
                "total_costs": [plan.total_cost for _, (_, plan) in ordered],
                "plans": [json_text(plan.plan) for _, (_, plan) in ordered],
            },
        )

    async def store_schema(
        self, collected_at: datetime, tables: list[TableStats], indexes: list[IndexStats]
    ) -> None:
        # Serialized by pydantic in one go (0.7 ms for 120 tables and their indexes, ~0.2 MB) where
        # model_dump() and then json.dumps took 3.3 ms: the same JSON (see the ingestion tests).
        upsert = insert(DatabaseSchema).values(
            tenant_id=self._tenant_id,
            database_id=self._database_id,
            collected_at=collected_at,
            tables=cast(literal(TABLE_STATS_JSON.dump_json(tables).decode(), Text), JSONB),
            indexes=cast(literal(INDEX_STATS_JSON.dump_json(indexes).decode(), Text), JSONB),
        )
        await self._session.execute(
            upsert.on_conflict_do_update(
                index_elements=[DatabaseSchema.tenant_id, DatabaseSchema.database_id],
                set_={
                    "collected_at": upsert.excluded.collected_at,
                    "tables": upsert.excluded.tables,
                    "indexes": upsert.excluded.indexes,
                },
                where=DatabaseSchema.collected_at <= upsert.excluded.collected_at,
            )
        )
