"""Reading a few statements' raw intervals (`statement_stats`) over a time range, a snapshot at a time.

The raw rows' key leads with the time (tenant, database, collected_at, fingerprint; migration 0021),
so that storing a snapshot appends its rows side by side. One statement's rows are then not one
range of the index but one entry per snapshot: filtered on the fingerprint alone, a range of 6 hours
is 720 snapshots x 5,000 statements scanned for 720 rows. Named by their times instead, taken from
`snapshots` (one row per stored snapshot, indexed by time), each is a probe of the key: 720 probes,
~5 ms (benchmarks/statement_stats_layout.py). A semi-join (`IN`), not a join: the parts of a
snapshot split to fit the body limit (agent/ship/split.py) are snapshots of one time, and a join
would count a row once per part.
The same range is put on the raw rows as well, so that the planner keeps only its days' partitions.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import InstrumentedAttribute

from control_plane.models import Snapshot, StatementStat


def _within(
    column: InstrumentedAttribute[datetime],
    since: datetime | ColumnElement[datetime],
    until: datetime | ColumnElement[datetime],
    since_open: bool,
    until_open: bool,
) -> ColumnElement[bool]:
    return and_(
        column > since if since_open else column >= since,
        column < until if until_open else column <= until,
    )


def intervals_between(
    tenant_id: uuid.UUID | ColumnElement[uuid.UUID],
    database_id: uuid.UUID | ColumnElement[uuid.UUID],
    since: datetime | ColumnElement[datetime],
    until: datetime | ColumnElement[datetime],
    *,
    since_open: bool = False,
    until_open: bool = False,
    of_snapshots: Sequence[ColumnElement[bool]] = (),
) -> list[ColumnElement[bool]]:
    """The conditions on `StatementStat` for one database's rows collected in [since, until] (an
    end is left out when it is `open`), read a snapshot at a time; `of_snapshots` narrows the
    snapshots (conditions on `Snapshot`). The caller adds the fingerprints it reads. Values or bind
    parameters alike (queries.counters_statement)."""
    return [
        StatementStat.tenant_id == tenant_id,
        StatementStat.database_id == database_id,
        _within(StatementStat.collected_at, since, until, since_open, until_open),
        StatementStat.collected_at.in_(
            select(Snapshot.collected_at).where(
                Snapshot.tenant_id == tenant_id,
                Snapshot.database_id == database_id,
                _within(Snapshot.collected_at, since, until, since_open, until_open),
                *of_snapshots,
            )
        ),
    ]
