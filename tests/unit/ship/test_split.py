"""split_snapshot: a too-large snapshot as smaller, valid, deterministic ones."""

from __future__ import annotations

import uuid

import pytest

from agent.ship.split import can_split, part_id, split_snapshot
from shared.wire.snapshot import DroppedStatements, Snapshot
from tests.unit.ship.snapshots import fingerprint, make_snapshot


@pytest.mark.parametrize(
    ("statements", "parts", "expected_sizes"),
    [
        (2, 2, [1, 1]),
        (3, 2, [2, 1]),
        (4, 2, [2, 2]),
        (7, 3, [3, 2, 2]),
        (2, 5, [1, 1]),  # never an empty part
        (10, 4, [3, 3, 2, 2]),
    ],
)
def test_statements_are_divided_into_contiguous_runs(
    statements: int, parts: int, expected_sizes: list[int]
) -> None:
    snapshot = make_snapshot(statements)
    result = split_snapshot(snapshot, parts)
    assert [len(part.statements) for part in result] == expected_sizes
    assert [s for part in result for s in part.statements] == snapshot.statements


@pytest.mark.parametrize(
    ("statements", "plans_for", "expected_plans"),
    [
        (4, (0,), [[0], []]),
        (4, (3,), [[], [3]]),
        (4, (0, 1, 2, 3), [[0, 1], [2, 3]]),
        (4, (), [[], []]),
    ],
)
def test_plans_travel_with_their_statement(
    statements: int, plans_for: tuple[int, ...], expected_plans: list[list[int]]
) -> None:
    result = split_snapshot(make_snapshot(statements, plans_for=plans_for))
    assert [[plan.fingerprint for plan in part.plans] for part in result] == [
        [fingerprint(n) for n in wanted] for wanted in expected_plans
    ]


def test_a_plan_without_its_statement_goes_with_the_first_part() -> None:
    snapshot = make_snapshot(4, plans_for=(99,))
    first, second = split_snapshot(snapshot)
    assert [plan.fingerprint for plan in first.plans] == [fingerprint(99)]
    assert second.plans == []


def test_per_interval_information_goes_with_the_first_part_only() -> None:
    snapshot = make_snapshot(4)
    first, second = split_snapshot(snapshot)
    assert (first.tables, first.indexes, first.dropped) == (
        snapshot.tables,
        snapshot.indexes,
        snapshot.dropped,
    )
    assert first.interval == snapshot.interval
    assert (second.tables, second.indexes, second.dropped) == ([], [], DroppedStatements())
    assert second.interval.entries_deallocated == 0
    assert second.interval.model_copy(update={"entries_deallocated": 4}) == snapshot.interval
    for part in (first, second):
        assert (part.server, part.collected_at, part.database_name) == (
            snapshot.server,
            snapshot.collected_at,
            snapshot.database_name,
        )


def test_every_other_optional_field_is_left_at_its_default_in_later_parts() -> None:
    # Holds for fields added to Snapshot after this test was written, too.
    shared = {"snapshot_id", "statements", "plans", "interval", "server", "collected_at"}
    shared |= {"schema_version", "agent_version", "database_name"}
    _first, second = split_snapshot(make_snapshot(4))
    for name, field in Snapshot.model_fields.items():
        if name not in shared and not field.is_required():
            assert getattr(second, name) == field.get_default(call_default_factory=True), name


def test_part_ids_are_deterministic_and_distinct() -> None:
    snapshot = make_snapshot(4)
    once = [part.snapshot_id for part in split_snapshot(snapshot)]
    again = [part.snapshot_id for part in split_snapshot(snapshot)]
    assert once == again == [part_id(snapshot.snapshot_id, 1, 2), part_id(snapshot.snapshot_id, 2, 2)]
    assert once[0] == uuid.uuid5(snapshot.snapshot_id, "part 1 of 2")
    assert len({snapshot.snapshot_id, *once}) == 3


def test_parts_are_valid_snapshots() -> None:
    for part in split_snapshot(make_snapshot(5, plans_for=(0, 4)), 3):
        assert Snapshot.model_validate_json(part.model_dump_json()) == part


@pytest.mark.parametrize("statements", [0, 1])
def test_a_snapshot_with_fewer_than_two_statements_cannot_be_split(statements: int) -> None:
    snapshot = make_snapshot(statements)
    assert not can_split(snapshot)
    with pytest.raises(ValueError, match="cannot be split"):
        split_snapshot(snapshot)


def test_fewer_than_two_parts_is_refused() -> None:
    with pytest.raises(ValueError, match="at least two"):
        split_snapshot(make_snapshot(4), 1)
