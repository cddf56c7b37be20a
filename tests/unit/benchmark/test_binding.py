"""How sampled values are put together: ranges that are ranges, IN lists of distinct values, patterns."""

from __future__ import annotations

import pytest

from agent.benchmark.binding import (
    ARRAY_VALUES,
    RANGE_WIDTHS,
    array_literal,
    bound_expression,
    having_values,
    like_pattern,
    neutral_value,
    range_bounds,
    window_points,
)
from agent.benchmark.measurements import CandidateBenchmark, StatementTiming
from agent.benchmark.parameters import ColumnRef, UnsampleableStatement
from agent.benchmark.runs import castable_type


def test_range_bounds_are_ordered_non_empty_and_cycle_from_narrow_to_wide() -> None:
    values = [f"{n:03d}" for n in range(101)]  # sorted, as the server returns them

    pairs = range_bounds(values, 6)

    # TPC-H Q6's `l_shipdate >= $1 AND l_shipdate < $2` got one date twice: an empty range.
    assert all(low < high for low, high in pairs)
    widths = [int(high) - int(low) for low, high in pairs]
    assert widths == [round(w * 100) for w in RANGE_WIDTHS] * 2
    assert len({low for low, _ in pairs}) == 6  # starting points spread over the column


def test_range_bounds_of_a_column_with_one_value_or_none() -> None:
    assert range_bounds(["7"], 3) == [("7", "7")] * 3
    assert range_bounds([], 3) == []
    assert range_bounds(["1", "2"], 2) == [("1", "2"), ("1", "2")]


def test_a_like_pattern_is_a_word_of_a_value_between_wildcards() -> None:
    assert like_pattern("goldenrod lavender spring chocolate lace") == "%spring%"
    assert like_pattern("single") == "%single%"


def test_neutral_values_by_type_and_none_for_a_type_without_one() -> None:
    assert neutral_value("numeric") == neutral_value("integer") == "1"
    assert neutral_value("numeric(15,2)") == "1"
    assert neutral_value("text") == neutral_value("character varying") == "x"
    assert neutral_value("date") is None


def timing(fingerprint: str, before: float, after: float, *, used: bool = True) -> StatementTiming:
    t = StatementTiming(fingerprint, calls=1, before_ms=[before] * 3, after_ms=[after] * 3, index_name="ix")
    t.plans_after.add("Index Scan(ix)" if used else "Seq Scan")
    return t


def test_slowed_takes_both_the_share_and_the_floor_and_only_plans_that_used_the_index() -> None:
    result = CandidateBenchmark(
        "t(x)",
        timings=[
            timing("a" * 16, 100.0, 150.0),  # +50 %, +50 ms: slowed
            timing("b" * 16, 100.0, 105.0),  # +5 %: noise
            timing("c" * 16, 0.3, 0.5),  # +67 % but 0.2 ms: under the floor
            timing("d" * 16, 100.0, 150.0, used=False),  # no plan used the index: not its doing
        ],
    )
    # Runs of one pair bind the same values, and the values differ from pair to pair (a narrow, a wide,
    # a narrow range): +50 %, +3 % and +60 % make a median pair of +50 %.
    pairs = StatementTiming(
        "e" * 16, calls=1, before_ms=[100.0, 300.0, 100.0], after_ms=[150.0, 310.0, 160.0]
    )
    pairs.index_name = "ix"
    pairs.plans_after.add("Index Scan(ix)")

    assert [t.fingerprint for t in result.slowed(10.0, 1.0)] == ["a" * 16]
    assert pairs.paired_ratio == 1.5
    assert CandidateBenchmark("t(x)", timings=[pairs]).slowed(10.0, 1.0) == [pairs]
    assert CandidateBenchmark("t(x)", timings=[pairs]).slowed(60.0, 1.0) == []


def test_a_char_parameter_is_cast_to_the_unbounded_type() -> None:
    # `::character` is char(1): TPC-H's r_name = 'AMERICA' was bound as 'A' and matched nothing.
    assert castable_type("character") == "bpchar"
    assert castable_type("character varying") == "character varying"
    assert castable_type("character[]") == "bpchar[]" and castable_type("integer[]") == "integer[]"
    assert castable_type("numeric") == "numeric"


def test_the_parameters_inside_a_compared_expression_become_the_literals_they_are_bound_to() -> None:
    column = ColumnRef("public", "customer", "SUBSTRING(c_phone FROM $1 FOR $2)")
    assert bound_expression(column, {1: ("1",), 2: ("2",)}, ("integer", "integer")) == (
        "SUBSTRING(c_phone FROM CAST('1' AS INT) FOR CAST('2' AS INT))"
    )
    with pytest.raises(UnsampleableStatement, match=r"\$2"):
        bound_expression(column, {1: ("1",)}, ("integer",))


def test_a_lone_having_bound_keeps_few_groups_and_a_value_may_be_any() -> None:
    ordered = [str(n) for n in range(100, 200)]  # the groups' sums, sorted
    assert having_values(ordered, "lower", 3) == ["190", "194", "199"]  # `> $1`: the top tenth
    assert having_values(ordered, "upper", 3) == ["100", "104", "109"]  # `< $1`: the bottom tenth
    assert having_values(ordered, "value", 3) == ["100", "150", "199"]
    assert having_values(["7"], "lower", 3) == ["7"]


def test_a_lone_window_starts_among_the_newest_values_or_the_oldest_and_always_keeps_some() -> None:
    values = [f"2026-12-{day:02d}" for day in range(1, 21)]  # 20 sorted values: 2 % of them is none

    newest = window_points(values, "lower", 3)  # created_at > now() - $1: the last days
    oldest = window_points(values, "upper", 3)  # created_at < now() - $1: older than some days

    assert all(point < values[-1] for point in newest)  # `> max` would keep no row
    assert all(point >= values[-8] for point in newest)  # at most the newest third
    assert all(values[0] < point <= values[7] for point in oldest)
    assert window_points(values[:2], "lower", 3) == []  # too few values to start a window among


def test_an_array_parameter_gets_quoted_elements_that_any_type_reads() -> None:
    values = ["7", 'say "hi"', "back\\slash", "x", "y", "z"]

    assert array_literal(values, 0) == '{"7","say \\"hi\\"","back\\\\slash","x","y"}'
    assert array_literal(values, 4).startswith('{"y","z","7"')  # each run starts further on, wrapping
    assert array_literal(["1", "2"], 0) == '{"1","2"}'  # fewer values than ARRAY_VALUES: each once
    assert ARRAY_VALUES == 5
