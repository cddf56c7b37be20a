from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Float, Text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from control_plane.models.base import FINGERPRINT, Base, monitored_database_fk, utc_now_column


class Statement(Base):
    """A statement of one database, by fingerprint: its anonymized text and when it was seen."""

    __tablename__ = "statements"
    __table_args__ = (monitored_database_fk(),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    database_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(FINGERPRINT, primary_key=True)
    query: Mapped[str] = mapped_column(Text, nullable=False)
    statement_type: Mapped[str] = mapped_column(Text, nullable=False)
    relations: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False, default=list)
    first_seen_at: Mapped[datetime] = utc_now_column()
    last_seen_at: Mapped[datetime] = utc_now_column()


class StatementCounterColumns:
    """One statement's pg_stat_statements counters (shared.wire.snapshot.StatementCounters): over one
    interval in `statement_stats`, added up over one hour in `statement_rollups`."""

    calls: Mapped[int] = mapped_column(BigInteger, nullable=False)
    rows: Mapped[int] = mapped_column(BigInteger, nullable=False)
    total_exec_time_ms: Mapped[float] = mapped_column(Float, nullable=False)
    total_plan_time_ms: Mapped[float] = mapped_column(Float, nullable=False)
    shared_blks_hit: Mapped[int] = mapped_column(BigInteger, nullable=False)
    shared_blks_read: Mapped[int] = mapped_column(BigInteger, nullable=False)
    shared_blks_dirtied: Mapped[int] = mapped_column(BigInteger, nullable=False)
    shared_blks_written: Mapped[int] = mapped_column(BigInteger, nullable=False)
    local_blks_hit: Mapped[int] = mapped_column(BigInteger, nullable=False)
    local_blks_read: Mapped[int] = mapped_column(BigInteger, nullable=False)
    temp_blks_read: Mapped[int] = mapped_column(BigInteger, nullable=False)
    temp_blks_written: Mapped[int] = mapped_column(BigInteger, nullable=False)
    blk_read_time_ms: Mapped[float] = mapped_column(Float, nullable=False)
    blk_write_time_ms: Mapped[float] = mapped_column(Float, nullable=False)
    wal_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)


class StatementStat(StatementCounterColumns, Base):
    """Per-interval counters of one statement: a time series partitioned by `collected_at` (daily).

    Partitions are created ahead and dropped past the retention by a SECURITY DEFINER function, so
    the runtime role never needs to own the table. No foreign key: partitions are dropped whole.

    The key leads with the time (migration 0021): a snapshot's rows are appended side by side at
    its database's end of the index, where a fingerprint-first key put 5,000 rows on 5,000 leaf
    pages scattered over it (benchmarks/statement_stats_layout.py: 27 -> 9 ms a snapshot). The
    same key serves a database's rows over a time range (QueryRepository's raw edge hours). One
    statement's intervals are read a snapshot at a time: `snapshots` gives the times in the range,
    each a probe of the key (control_plane/queries/intervals.py).
    """

    __tablename__ = "statement_stats"
    __table_args__ = ({"postgresql_partition_by": "RANGE (collected_at)"},)

    # Declared in the key's order (the primary key's columns are in declaration order).
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    database_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    collected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(FINGERPRINT, primary_key=True)
    snapshot_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    interval_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
