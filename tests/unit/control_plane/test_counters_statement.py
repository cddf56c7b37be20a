"""The counters statement's shape is decided from the range alone, and a kept statement holds no value."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import BindParameter
from sqlalchemy.sql import visitors

from control_plane.queries.counters_statement import (
    DaysShape,
    RangeShape,
    counters_union,
    named_binds,
    params,
    plan_range,
)
from control_plane.queries.running_totals_repository import RunningTotals

TENANT, DATABASE = uuid.uuid4(), uuid.uuid4()
MIDNIGHT = datetime(2026, 12, 1, tzinfo=UTC)


def at(days: int = 0, hours: int = 0, minutes: int = 0) -> datetime:
    return MIDNIGHT + timedelta(days=days, hours=hours, minutes=minutes)


@pytest.mark.parametrize(
    ("since", "until", "whole_days", "shape"),
    [
        pytest.param(
            at(hours=10), at(hours=12), False, RangeShape(False, False, None, False), id="whole hours"
        ),
        pytest.param(
            at(hours=10, minutes=10),
            at(hours=10, minutes=45),
            False,
            RangeShape(True, True, None, False),
            id="inside one hour",
        ),
        pytest.param(
            at(hours=2),
            at(days=1, hours=2),
            True,
            RangeShape(False, False, DaysShape(False, False, False, True), False),
            id="a day from 02:00: its first day's daily rollup less 2 hours",
        ),
        pytest.param(
            at(hours=20),
            at(days=1, hours=20),
            True,
            RangeShape(False, False, DaysShape(False, False, False, False), False),
            id="a day from 20:00: its first day's 4 hours read as hours",
        ),
    ],
)
def test_the_shape_follows_from_where_the_range_starts_and_ends(
    since: datetime, until: datetime, whole_days: bool, shape: RangeShape
) -> None:
    assert plan_range(TENANT, DATABASE, since, until, whole_days=whole_days)[0] == shape


def test_ranges_that_differ_only_in_their_times_share_a_shape_and_not_their_values() -> None:
    first = plan_range(TENANT, DATABASE, at(hours=10, minutes=10), at(hours=11, minutes=30))
    later = plan_range(
        uuid.uuid4(), uuid.uuid4(), at(days=3, hours=7, minutes=5), at(days=3, hours=8, minutes=59)
    )

    assert first[0] == later[0]
    assert params(first[1]) != params(later[1])


def test_whole_days_use_the_running_totals_they_have() -> None:
    totals = RunningTotals(first_day=at(days=-30), kept_from=at(days=-30), through_day=at(days=20))
    shape, values = plan_range(
        TENANT, DATABASE, at(hours=3), at(days=10, hours=5), whole_days=True, totals=totals
    )

    assert shape.days == DaysShape(
        running_totals=True, less_running_total=True, daily_after_totals=False, since_day_less_hours=True
    )
    # total(through day 9) - total(through day 0): days 1 to 9, then day 10 read as the last day.
    assert (values.total_through, values.day_before_from, values.day_to) == (at(days=9), at(), at(days=10))


def test_a_statement_built_from_named_binds_holds_no_value_and_names_every_parameter() -> None:
    shapes = [
        plan_range(TENANT, DATABASE, since, until, whole_days=True, without_first_snapshots=True)[0]
        for since, until in [
            (at(hours=2, minutes=5), at(days=3, hours=4, minutes=7)),
            (at(hours=1), at(hours=1, minutes=5)),
        ]
    ]
    for shape in shapes:
        statement = counters_union(shape, named_binds())
        binds = [node for node in visitors.iterate(statement) if isinstance(node, BindParameter)]
        named = {bind.key for bind in binds if bind.value is None}
        # Every parameter a request's value goes into is named; the rest are constants (1 hour).
        assert named <= set(params(plan_range(TENANT, DATABASE, at(), at(hours=1))[1]))
        assert {"tenant_id", "database_id", "since", "until"} <= named
        assert {bind.value for bind in binds if bind.value is not None} <= {timedelta(hours=1)}
