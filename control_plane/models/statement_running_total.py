from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from control_plane.models.base import FINGERPRINT, Base, monitored_database_fk
from control_plane.models.statement import StatementCounterColumns


class StatementRunningTotal(StatementCounterColumns, Base):
    """One statement's counters added up over every UTC day from the first one computed through `day`
    (its midnight): the prefix sums of `statement_daily_rollups`.

    Every statement seen by `day` has a row for it, carried forward on days it did not run, so the
    sums over whole days [a, b) are two rows per statement: total(b - 1 day) - total(a - 1 day). A
    30-day range of 10,000 statements is then 20,000 rows instead of 300,000 daily ones. Written only
    by the running-totals job (control_plane.queries.running_totals) for days that are over, and
    only trusted while `StatementRunningTotalState` says they are current.
    """

    __tablename__ = "statement_running_totals"
    __table_args__ = (monitored_database_fk(),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    database_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    day: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(FINGERPRINT, primary_key=True)


class StatementRunningTotalState(Base):
    """Which days of a database's running totals exist, and when they were computed.

    Rows exist for every day in [kept_from, through_day]; before `first_day` there was no history, so
    a total there is zero. Every snapshot stored (`snapshots.received_at`) before `complete_before`
    is in them: that is `computed_at` less a settle time which covers a storing transaction still
    open when the totals were read. A snapshot stored later for a day up to `through_day` makes them
    stale: readers then add up the daily rollups, and the job recomputes from that day.
    """

    __tablename__ = "statement_running_total_state"
    __table_args__ = (monitored_database_fk(),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    database_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    first_day: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    kept_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    through_day: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    complete_before: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
