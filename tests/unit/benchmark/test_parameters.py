"""parameter_sources: which column (or fixed setting) each `$n` of a normalized statement stands for."""

from __future__ import annotations

import pytest

from agent.benchmark.measurements import CandidateBenchmark, StatementTiming, percentile
from agent.benchmark.parameters import (
    AggregateRef,
    ColumnRef,
    FixedValue,
    NeutralValue,
    Role,
    UnsampleableStatement,
    WindowRef,
    parameter_sources,
)
from agent.benchmark.settings import BenchmarkSettings
from shared.wire.snapshot import ColumnStats, TableStats


def table(name: str, *columns: str) -> TableStats:
    return TableStats(
        schema_name="public",
        name=name,
        row_estimate=1000,
        total_bytes=0,
        table_bytes=0,
        index_bytes=0,
        columns=[ColumnStats(name=c, type="int", not_null=True) for c in columns],
    )


TABLES = [table("events", "id", "device_id", "note", "amount"), table("accounts", "id", "region")]
SETTINGS = BenchmarkSettings()


def sources(text: str) -> dict[int, object]:
    return dict(parameter_sources(text, TABLES, SETTINGS))


def events(column: str, role: Role = "value") -> ColumnRef:
    return ColumnRef("public", "events", column, role)


def test_comparisons_in_and_between_map_to_their_columns_whichever_side_the_parameter_is_on() -> None:
    assert sources(
        "SELECT id FROM events WHERE device_id = $1 AND $2 < amount AND note IN ($3, $4) "
        "AND id BETWEEN $5 AND $6"
    ) == {
        1: events("device_id"),
        2: events("amount", "lower"),  # `$2 < amount`: amount above $2
        3: events("note"),
        4: events("note"),
        5: events("id", "lower"),
        6: events("id", "upper"),
    }


def test_bounds_and_patterns_carry_their_role() -> None:
    assert sources(
        "SELECT id FROM events WHERE amount >= $1 AND amount < $2 AND $3 >= device_id AND note NOT LIKE $4"
    ) == {
        1: events("amount", "lower"),
        2: events("amount", "upper"),
        3: events("device_id", "upper"),
        4: events("note", "like"),
    }


def test_constants_outside_every_condition_take_a_neutral_value_and_a_field_is_a_field() -> None:
    # TPC-H's `sum(l_extendedprice * (1 - l_discount))` and `extract(year FROM o_orderdate)`: they
    # change no row count, so no plan; before, they left 15 of the 19 TPC-H queries untimed.
    assert sources(
        "SELECT EXTRACT($1 FROM now()), sum(amount * ($2 - id)), CASE WHEN note = $3 THEN $4 ELSE $5 END "
        "FROM events WHERE device_id = $6 GROUP BY 1, 3"
    ) == {
        1: FixedValue("year"),
        2: NeutralValue(numeric=True),  # an operand: declared numeric if the server cannot tell
        3: NeutralValue(),
        4: NeutralValue(numeric=True),  # a CASE result
        5: NeutralValue(numeric=True),
        6: events("device_id"),
    }
    assert sources("UPDATE events SET amount = amount + $1 WHERE device_id = $2") == {
        1: NeutralValue(numeric=True),
        2: events("device_id"),
    }


def test_joins_resolve_the_column_to_its_own_table() -> None:
    assert sources("SELECT e.id FROM events e JOIN accounts a ON a.id = e.device_id WHERE a.region = $1") == {
        1: ColumnRef("public", "accounts", "region")
    }


def test_update_assignments_map_to_the_target_table_and_limit_offset_get_fixed_values() -> None:
    assert sources("UPDATE events SET amount = $1 WHERE device_id = $2") == {
        1: events("amount"),
        2: events("device_id"),
    }
    assert sources("SELECT id FROM events WHERE device_id = $1 ORDER BY id LIMIT $2 OFFSET $3") == {
        1: events("device_id"),
        2: FixedValue(str(SETTINGS.limit_value)),
        3: FixedValue(str(SETTINGS.offset_value)),
    }


@pytest.mark.parametrize(
    "text",
    [
        "SELECT id FROM events WHERE device_id = $1 * $2",  # arithmetic in a condition: its rows unknown
        # A HAVING aggregate whose groups span two tables: no one table to sample groups of.
        "SELECT e.device_id FROM events e JOIN accounts a ON a.id = e.device_id"
        " GROUP BY e.device_id, a.region HAVING sum(e.amount) > $1",
        "SELECT $1 FROM events WHERE amount > $1 * 2",  # in a condition too, if only once
        "SELECT id FROM nowhere WHERE x = $1",  # an unknown table
    ],
)
def test_a_parameter_tied_to_no_column_makes_the_statement_unsampleable(text: str) -> None:
    with pytest.raises(UnsampleableStatement, match=r"\$\d"):
        parameter_sources(text, TABLES, SETTINGS)


def test_p95_of_few_runs_is_the_slowest_and_of_many_the_nearest_rank() -> None:
    assert percentile([3.0, 1.0, 2.0, 9.0, 4.0, 5.0, 6.0], 0.95) == 9.0
    assert percentile([float(n) for n in range(1, 101)], 0.95) == 95.0


def test_a_statement_whose_plans_never_used_the_index_is_credited_no_gain() -> None:
    used = StatementTiming("a" * 16, calls=10, before_ms=[10.0, 12.0], after_ms=[1.0, 1.0], index_name="ix")
    used.plans_after.add("Index Scan(ix)")
    unused = StatementTiming("b" * 16, calls=10, before_ms=[10.0, 10.0], after_ms=[8.0, 8.0], index_name="ix")
    unused.plans_after.add("Seq Scan")

    assert CandidateBenchmark("t(x)", timings=[used]).gain_pct == 100 * (11 - 1) / 11
    assert CandidateBenchmark("t(x)", timings=[unused]).gain_pct == 0.0
    assert "no plan used the index" in CandidateBenchmark("t(x)", timings=[unused]).summary()


def test_a_column_compared_with_a_parameter_plus_an_offset_samples_the_first_and_neutralises_the_offset() -> (
    None
):
    # TPC-H Q19: `l_quantity >= $7 AND l_quantity <= $8 + $9`, a range whose upper end is written as a sum.
    assert sources("SELECT id FROM events WHERE amount >= $1 AND amount <= $2 + $3") == {
        1: events("amount", "lower"),
        2: events("amount", "upper"),
        3: NeutralValue(numeric=True),
    }


def test_an_expression_over_a_column_is_sampled_as_itself_and_the_parameters_inside_are_neutral() -> None:
    # `lower(email) = $1` (what an expression index serves) and TPC-H Q22's
    # `substring(c_phone FROM $1 FOR $2) IN ($3, ...)`: before, both left their statement untimed.
    inner = ColumnRef("public", "events", "SUBSTRING(note FROM $2 FOR $3)")
    assert sources(
        "SELECT id FROM events WHERE lower(note) = $1 AND substring(note FROM $2 FOR $3) IN ($4, $5)"
        " AND CAST(amount AS date) >= $6"
    ) == {
        1: events("lower(note)"),
        2: NeutralValue(declared="integer"),  # positions: not substring(text FROM text), a regex
        3: NeutralValue(declared="integer"),
        4: inner,
        5: inner,
        6: events("CAST(amount AS DATE)", "lower"),
    }
    assert events("lower(note)").is_expression and not events("note").is_expression
    # `date_trunc($1, d) = $2`: the field is a field here too, so the values sampled are truncated alike.
    assert sources("SELECT id FROM events WHERE date_trunc($1, amount) = $2") == {
        1: FixedValue("year"),
        2: events("date_trunc($1, amount)"),
    }


def test_a_having_threshold_is_tied_to_its_aggregate_over_the_groups_of_one_table() -> None:
    # TPC-H Q18: `o_orderkey IN (SELECT l_orderkey FROM lineitem GROUP BY l_orderkey HAVING
    # sum(l_quantity) > $1)`; before, its parameter was tied to nothing and Q18 never timed.
    assert sources(
        "SELECT e.id FROM events e WHERE e.device_id IN (SELECT device_id FROM events GROUP BY device_id"
        " HAVING sum(amount) > $1 AND count(*) <= $2)"
    ) == {
        1: AggregateRef("public", "events", "SUM(amount)", ("device_id",), "lower"),
        2: AggregateRef("public", "events", "COUNT(*)", ("device_id",), "upper"),
    }


def test_a_window_back_from_now_is_tied_to_its_column_and_its_clock() -> None:
    # The demo shop's `created_at > now() - interval '1 day'`, as pg_stat_statements keeps it; before,
    # "$2 is not compared with a column" and the statement was never timed.
    assert sources(
        "SELECT count(*) FROM events WHERE note = $1 AND amount > now() - interval $2"
        " AND id < current_date - $3 AND device_id >= date_trunc($4, now()) - $5::interval"
    ) == {
        1: events("note"),
        2: WindowRef(events("amount", "lower"), "CURRENT_TIMESTAMP"),  # `interval $2`: cast, as typed
        3: WindowRef(events("id", "upper"), "CURRENT_DATE", declared="integer"),  # was `- 30`
        4: FixedValue("year"),
        5: WindowRef(events("device_id", "lower"), "DATE_TRUNC('year', CURRENT_TIMESTAMP)"),
    }


def test_a_difference_that_does_not_start_from_the_clock_is_no_window() -> None:
    with pytest.raises(UnsampleableStatement):
        sources("SELECT id FROM events WHERE amount > $1 - $2 * $3")


def test_an_array_a_column_is_compared_with_is_sampled_as_that_column() -> None:
    # `device_id = ANY($1)`: how ORMs send an IN list as one parameter; it was "not compared".
    assert sources("SELECT id FROM events WHERE device_id = ANY($1) AND note <> ALL($2::text[])") == {
        1: events("device_id", "array"),
        2: events("note", "array"),
    }


def test_a_row_comparison_ties_each_parameter_to_the_column_in_its_position() -> None:
    # Keyset pagination, the next page after the last row seen; it was "not compared" before.
    assert sources(
        "SELECT id FROM events WHERE (amount, id) < ($1, $2) ORDER BY amount DESC, id DESC LIMIT $3"
    ) == {
        1: events("amount", "upper"),
        2: events("id", "upper"),
        3: FixedValue(str(SETTINGS.limit_value)),
    }
    assert sources("SELECT id FROM events WHERE ($1, $2) <= (amount, id)") == {
        1: events("amount", "lower"),
        2: events("id", "lower"),
    }
