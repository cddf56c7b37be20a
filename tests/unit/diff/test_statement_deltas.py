"""diff_statements: which counters belong to the interval between two polls of pg_stat_statements."""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.diff.statement_deltas import (
    Counters,
    StatementDiff,
    StatementKey,
    diff_statements,
    merge_counters,
)
from shared.wire.snapshot import StatementCounters

FIELDS = [f.name for f in dataclasses.fields(Counters)]
HINTS = typing.get_type_hints(Counters)
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)

A = StatementKey(userid=10, dbid=5, queryid=111, toplevel=True)
B = StatementKey(userid=10, dbid=5, queryid=222, toplevel=True)
B_NESTED = StatementKey(userid=10, dbid=5, queryid=222, toplevel=False)


def c(calls: int, rows: int = 0, exec_ms: float = 0.0, **others: typing.Any) -> Counters:
    return Counters(calls=calls, rows=rows, total_exec_time_ms=exec_ms, **others)


def setting(name: str, amount: int, base: Counters | None = None) -> Counters:
    """`base` (zeros by default) with one field set to `amount`, in that field's type."""
    value: typing.Any = float(amount) if HINTS[name] is float else amount
    return dataclasses.replace(base or Counters(), **{name: value})


def test_counters_mirror_the_wire_statement_counters() -> None:
    assert list(StatementCounters.model_fields) == FIELDS
    for name, info in StatementCounters.model_fields.items():
        assert HINTS[name] is info.annotation, name
        assert getattr(Counters(), name) == info.default == 0


def test_first_poll_without_state_reports_counters_since_reset() -> None:
    result = diff_statements(None, {A: c(3, 30, 1.5), B: c(0)}, current_stats_reset=T0)
    assert result == StatementDiff(
        kind="since_reset", deltas={A: c(3, 30, 1.5)}, reset_detected=False, entries_reset=0
    )


def test_plain_increase_reports_exactly_the_difference() -> None:
    before = c(3, 30, 1.5, shared_blks_read=7, wal_bytes=100)
    after = c(5, 45, 4.0, shared_blks_read=9, wal_bytes=160)
    result = diff_statements({A: before}, {A: after}, previous_stats_reset=T0, current_stats_reset=T0)
    assert result == StatementDiff(
        kind="delta",
        deltas={A: c(2, 15, 2.5, shared_blks_read=2, wal_bytes=60)},
        reset_detected=False,
        entries_reset=0,
    )


def test_reset_between_polls_is_flagged_without_negative_deltas() -> None:
    # After pg_stat_statements_reset() A ran again but has not caught up; B re-grew past its old value.
    previous = {A: c(100, 1000, 50.0), B: c(2, 2, 1.0)}
    current = {A: c(4, 40, 2.0), B: c(9, 9, 3.0)}
    result = diff_statements(previous, current, previous_stats_reset=T0, current_stats_reset=T1)
    assert result.kind == "delta"
    assert result.deltas == current
    assert result.reset_detected
    assert result.entries_reset == 1  # only A visibly went backwards


def test_evicted_and_readded_entry_uses_current_counters() -> None:
    previous = {A: c(100, 1000, 50.0), B: c(10, 10, 1.0)}
    current = {A: c(2, 20, 0.5), B: c(12, 12, 1.5)}
    result = diff_statements(previous, current)  # 1.8 and older: no stats_reset to compare
    assert result.deltas == {A: c(2, 20, 0.5), B: c(2, 2, 0.5)}
    assert result.reset_detected
    assert result.entries_reset == 1


@pytest.mark.parametrize("name", FIELDS)
def test_any_single_counter_going_backwards_means_the_entry_was_reset(name: str) -> None:
    earlier = setting(name, 10, base=c(5))
    later = setting(name, 3, base=c(6))
    result = diff_statements({A: earlier}, {A: later})
    assert result.deltas == {A: later}
    assert (result.reset_detected, result.entries_reset) == (True, 1)


@dataclass(frozen=True)
class Case:
    previous: dict[StatementKey, Counters] | None
    current: dict[StatementKey, Counters]
    deltas: dict[StatementKey, Counters]
    reset_detected: bool = False
    entries_reset: int = 0
    stats_reset: tuple[datetime | None, datetime | None] = field(default=(None, None))


CASES: dict[str, Case] = {
    "first poll leaves out entries never called": Case(None, {A: c(0)}, {}),
    "entry without calls in the interval is left out": Case({A: c(3, 3, 1.0)}, {A: c(3, 3, 1.0)}, {}),
    "entry created since the last poll reports all its counters": Case(
        {A: c(1)}, {A: c(1), B: c(4, 8)}, {B: c(4, 8)}
    ),
    "entry gone from the current poll reports nothing": Case({A: c(1), B: c(2)}, {A: c(3)}, {A: c(2)}),
    "top-level and nested entries of one query are diffed apart": Case(
        {B: c(1, 1), B_NESTED: c(10, 10)}, {B: c(2, 2), B_NESTED: c(15, 15)}, {B: c(1, 1), B_NESTED: c(5, 5)}
    ),
    "entry reset to zero calls counts as reset but reports nothing": Case(
        {A: c(9, 9)}, {A: c(0)}, {}, reset_detected=True, entries_reset=1
    ),
    "unchanged stats_reset is not a reset": Case({A: c(1)}, {A: c(4)}, {A: c(3)}, stats_reset=(T0, T0)),
    "stats_reset newer takes current counters even when they grew": Case(
        {A: c(1)}, {A: c(4)}, {A: c(4)}, reset_detected=True, stats_reset=(T0, T1)
    ),
    "stats_reset older means another server answered, so a reset too": Case(
        {A: c(1)}, {A: c(4)}, {A: c(4)}, reset_detected=True, stats_reset=(T1, T0)
    ),
    "stats_reset appearing (extension updated to 1.9) is not a reset": Case(
        {A: c(1)}, {A: c(4)}, {A: c(3)}, stats_reset=(None, T0)
    ),
    "stats_reset disappearing is not a reset by itself": Case(
        {A: c(1)}, {A: c(4)}, {A: c(3)}, stats_reset=(T0, None)
    ),
    "view reset leaves out entries not called since": Case(
        {A: c(5)}, {A: c(0), B: c(2)}, {B: c(2)}, reset_detected=True, entries_reset=1, stats_reset=(T0, T1)
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_diff_rules(case: Case) -> None:
    previous_reset, current_reset = case.stats_reset
    result = diff_statements(
        case.previous, case.current, previous_stats_reset=previous_reset, current_stats_reset=current_reset
    )
    assert result.kind == ("since_reset" if case.previous is None else "delta")
    assert result.deltas == case.deltas
    assert (result.reset_detected, result.entries_reset) == (case.reset_detected, case.entries_reset)


@pytest.mark.parametrize("name", FIELDS)
def test_minus_plus_and_backwards_check_cover_every_field(name: str) -> None:
    small, big = setting(name, 2), setting(name, 7)
    assert big.minus(small) == setting(name, 5)
    assert small.plus(big) == setting(name, 9)
    assert small.went_backwards_from(big)
    assert not big.went_backwards_from(small)
    assert not big.went_backwards_from(big)


def test_merge_counters_sums_entries_sharing_a_fingerprint() -> None:
    merged = merge_counters([c(1, 2, 0.5, wal_bytes=10), c(3, 4, 1.5, blk_read_time_ms=2.0)])
    assert merged == c(4, 6, 2.0, wal_bytes=10, blk_read_time_ms=2.0)
    assert merge_counters([]) == Counters()


def counters_strategy(min_calls: int = 0) -> st.SearchStrategy[Counters]:
    def value(name: str) -> st.SearchStrategy[typing.Any]:
        if HINTS[name] is float:
            return st.floats(0.0, 1e12, allow_nan=False, allow_infinity=False)
        return st.integers(min_calls if name == "calls" else 0, 2**62)

    return st.builds(Counters, **{name: value(name) for name in FIELDS})


KEYS = st.builds(StatementKey, st.just(10), st.just(5), st.integers(1, 6), st.booleans())
POLL = st.dictionaries(KEYS, counters_strategy(), max_size=12)
STATS_RESET = st.sampled_from([None, T0, T1])


@given(POLL, POLL, STATS_RESET, STATS_RESET)
def test_no_delta_field_is_ever_negative(
    previous: dict[StatementKey, Counters],
    current: dict[StatementKey, Counters],
    previous_reset: datetime | None,
    current_reset: datetime | None,
) -> None:
    result = diff_statements(
        previous, current, previous_stats_reset=previous_reset, current_stats_reset=current_reset
    )
    assert result.deltas.keys() <= current.keys()
    for key, delta in result.deltas.items():
        assert delta.calls > 0
        assert all(getattr(delta, name) >= 0 for name in FIELDS), (key, delta)
        assert delta in (current[key], current[key].minus(previous.get(key, Counters())))


@given(st.dictionaries(KEYS, st.tuples(counters_strategy(), counters_strategy(min_calls=1)), max_size=12))
def test_plain_increase_yields_exactly_the_difference(
    entries: dict[StatementKey, tuple[Counters, Counters]],
) -> None:
    previous = {key: before for key, (before, _) in entries.items()}
    current = {key: before.plus(increase) for key, (before, increase) in entries.items()}
    result = diff_statements(previous, current, previous_stats_reset=T0, current_stats_reset=T0)
    assert (result.kind, result.reset_detected, result.entries_reset) == ("delta", False, 0)
    assert result.deltas.keys() == entries.keys()
    for key, (before, increase) in entries.items():
        delta = result.deltas[key]
        assert delta == current[key].minus(before)
        for name in FIELDS:
            got, want = getattr(delta, name), getattr(increase, name)
            if HINTS[name] is float:
                # (a + d) - a is d up to the rounding of a + d.
                assert math.isclose(got, want, abs_tol=4 * math.ulp(getattr(current[key], name)))
            else:
                assert got == want


def test_diff_of_5000_entries_reports_every_moved_and_reset_entry() -> None:
    # Timing is measured by benchmarks/collector_cycle.py; here only the result is specified.
    keys = [StatementKey(10, 5, queryid, True) for queryid in range(5_000)]
    previous = {key: c(i, i, i * 0.5, shared_blks_hit=i) for i, key in enumerate(keys)}
    current = {key: c(i + i % 3, i + 1, i * 0.5 + 1, shared_blks_hit=i + 2) for i, key in enumerate(keys)}
    current |= {keys[3]: c(1)}  # one reset entry, so every branch runs
    result = diff_statements(previous, current, previous_stats_reset=T0, current_stats_reset=T0)
    assert len(result.deltas) == sum(1 for i in range(5_000) if i % 3) + 1
    assert result.entries_reset == 1
