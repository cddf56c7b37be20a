"""Cutting a snapshot the control plane found too large into smaller ones it will take.

Statements are what grows with the workload, so they are divided into contiguous runs; everything
described once per interval (tables, indexes, dropped counts, findings, plans of no listed
statement) travels with the first part only, so the server never counts it twice. Each part has to
stand on its own as a Snapshot, so the server and interval information are in all of them, with the
interval's own counter (entries deallocated) kept on the first part for the same reason.

Part ids are derived from the original id, never random: a crash after the split, or a second split
of the same snapshot after a restart, produces the same ids, and the server's idempotency on
snapshot_id turns the resends into duplicates instead of double counts.
"""

from __future__ import annotations

from uuid import UUID, uuid5

from shared.wire.snapshot import PlanSample, Snapshot, StatementStats

# What each part needs to be a snapshot of this interval on its own; statements and plans are divided.
_EVERY_PART = frozenset(
    [
        *("schema_version", "snapshot_id", "agent_version", "collected_at", "database_name"),
        *("server", "interval", "statements", "plans"),
    ]
)


def part_id(snapshot_id: UUID, index: int, count: int) -> UUID:
    """The id of part `index` (1-based) of `count`."""
    return uuid5(snapshot_id, f"part {index} of {count}")


def can_split(snapshot: Snapshot) -> bool:
    return len(snapshot.statements) >= 2


def _runs(statements: list[StatementStats], parts: int) -> list[list[StatementStats]]:
    # Sizes differ by at most one, the larger runs first.
    size, extra = divmod(len(statements), parts)
    runs, start = [], 0
    for index in range(parts):
        end = start + size + (1 if index < extra else 0)
        runs.append(statements[start:end])
        start = end
    return runs


def _plans_by_run(plans: list[PlanSample], runs: list[list[StatementStats]]) -> list[list[PlanSample]]:
    home: dict[str, int] = {}
    for index, run in enumerate(runs):
        for statement in run:
            home.setdefault(statement.fingerprint, index)
    grouped: list[list[PlanSample]] = [[] for _ in runs]
    for plan in plans:
        grouped[home.get(plan.fingerprint, 0)].append(plan)
    return grouped


def _first_part_only(snapshot: Snapshot) -> dict[str, object]:
    """Defaults for every field the later parts must not repeat.

    Listed by exclusion, so a field added to Snapshot later (such as `findings`) travels once with
    the first part instead of being counted once per part; a required field is kept in every part,
    since a part without it would not be a valid snapshot.
    """
    defaults: dict[str, object] = {}
    for name, field in Snapshot.model_fields.items():
        if name in _EVERY_PART or field.is_required():
            continue
        defaults[name] = field.get_default(call_default_factory=True)
    # The interval must be in every part, but its counter must not be summed once per part.
    defaults["interval"] = snapshot.interval.model_copy(update={"entries_deallocated": 0})
    return defaults


def split_snapshot(snapshot: Snapshot, parts: int = 2) -> list[Snapshot]:
    """`snapshot` as `parts` snapshots (fewer if it has fewer statements), in statement order.

    Raises ValueError when it cannot be split: fewer than two statements, or parts below two.
    """
    if parts < 2:
        raise ValueError("a split needs at least two parts")
    if not can_split(snapshot):
        raise ValueError(f"snapshot {snapshot.snapshot_id} has fewer than two statements and cannot be split")
    count = min(parts, len(snapshot.statements))
    runs = _runs(snapshot.statements, count)
    plans = _plans_by_run(snapshot.plans, runs)
    later = _first_part_only(snapshot)
    result = []
    for index, (run, run_plans) in enumerate(zip(runs, plans, strict=True)):
        update: dict[str, object] = {
            "snapshot_id": part_id(snapshot.snapshot_id, index + 1, count),
            "statements": run,
            "plans": run_plans,
        }
        result.append(snapshot.model_copy(update=update if index == 0 else update | later))
    return result
