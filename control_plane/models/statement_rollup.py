from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Index, Integer
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from control_plane.models.base import FINGERPRINT, Base, monitored_database_fk
from control_plane.models.statement import StatementCounterColumns


class StatementRollup(StatementCounterColumns, Base):
    """The sum of one statement's `statement_stats` rows over one UTC hour (`bucket` is its start).

    Written in the transaction that writes the raw rows (a resent snapshot is refused before either),
    so a bucket always equals the sum of the raw rows whose `collected_at` falls in it. Top queries
    over a time range read whole hours from here and only the edge hours that the range cuts through
    from the raw rows. Partitioned by `bucket` (daily) and kept exactly as long as `statement_stats`:
    the same definer functions create and drop both tables' partitions. No foreign key, like the raw
    series: deleting a monitored database deletes its rollups explicitly.
    """

    __tablename__ = "statement_rollups"
    __table_args__ = (
        # One statement's hours over a range (the query detail's series, the heatmap's cells).
        Index(
            "ix_statement_rollups_tenant_id_database_id_fingerprint_bucket",
            "tenant_id",
            "database_id",
            "fingerprint",
            "bucket",
        ),
        {"postgresql_partition_by": "RANGE (bucket)"},
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    database_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    bucket: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(FINGERPRINT, primary_key=True)
    samples: Mapped[int] = mapped_column(Integer, nullable=False)  # how many raw rows were added up


class StatementDailyRollup(StatementCounterColumns, Base):
    """The sum of one statement's `statement_stats` rows over one UTC day (`bucket` is its midnight).

    What `StatementRollup` is per hour, for ranges of days: 30 days of one statement are 30 rows.
    It holds the day's hours before its database's `StatementDailyFold.folded_before`: folded in
    from the hourly rollups once they are over, or added by ingestion for a snapshot of an hour
    folded already. Partitioned and retained with the raw and hourly rows by the same definer
    functions; deleted explicitly with its monitored database.
    """

    __tablename__ = "statement_daily_rollups"
    __table_args__ = ({"postgresql_partition_by": "RANGE (bucket)"},)

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    database_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    bucket: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(FINGERPRINT, primary_key=True)
    samples: Mapped[int] = mapped_column(Integer, nullable=False)  # how many raw rows were added up


class StatementDailyFold(Base):
    """Before which hour a database's hourly rollups are folded into its daily ones.

    `statement_daily_rollups` holds every hour before `folded_before`, `statement_rollups` every hour;
    a day is the sum of its daily row and its hourly rows from `folded_before` on. Moved on by the
    daily-rollups job (control_plane.ingestion.daily_folds) under the database's fold lock, which
    ingestion holds shared while it decides whether a snapshot's hour is folded already (then it
    adds to both tables). No row: nothing folded yet, every hour is in the hourly rollups alone.
    """

    __tablename__ = "statement_daily_folds"
    __table_args__ = (monitored_database_fk(),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    database_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    folded_before: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    folded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
