"""Pattern index ideas, parameter-to-column mapping for representative plans, and skip reasons."""

from __future__ import annotations

import pytest

from agent.advise.pattern_indexes import pattern_ideas
from agent.advise.representative_plans import RepresentativeArguments, parameter_columns
from agent.advise.statement_reasons import empty, never_analyzed, unknown_tables_reason
from shared.wire.snapshot import ColumnStats, TableStats


def docs(**overrides: object) -> TableStats:
    values: dict[str, object] = {
        "schema_name": "public",
        "name": "docs",
        "row_estimate": 50_000,
        "total_bytes": 0,
        "table_bytes": 0,
        "index_bytes": 0,
        "n_live_tup": 50_000,
        "columns": [
            ColumnStats(name="id", type="integer", not_null=True, n_distinct=-1),
            ColumnStats(name="body", type="text", not_null=True, n_distinct=-1),
            ColumnStats(name="data", type="jsonb", not_null=False, n_distinct=-1),
            ColumnStats(name="day", type="date", not_null=True, n_distinct=90),
        ],
    }
    values.update(overrides)
    return TableStats.model_validate(values)


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("SELECT id FROM docs WHERE body LIKE $1", ["public.docs USING gin(body gin_trgm_ops)"]),
        ("SELECT id FROM docs WHERE body ILIKE '%x%'", ["public.docs USING gin(body gin_trgm_ops)"]),
        ("SELECT id FROM docs WHERE data @> $1", ["public.docs USING gin(data)"]),
        ("SELECT id FROM docs WHERE body LIKE 'abc%'", []),  # a B-tree candidate serves it
        ("SELECT id FROM docs WHERE body NOT LIKE $1", []),
        ("SELECT id FROM docs WHERE id = $1 OR body LIKE $2", []),  # not every row must match
    ],
)
def test_pattern_ideas(statement: str, expected: list[str]) -> None:
    assert [idea.definition.identity() for idea in pattern_ideas(statement, [docs()], [])] == expected


def test_parameters_map_to_the_columns_they_are_compared_with() -> None:
    mapped = parameter_columns(
        "SELECT id FROM docs WHERE day >= $1 AND $2 > day AND id IN ($3, $4) AND body = lower($5)", [docs()]
    )
    assert {n: (column, role) for n, (_, column, role) in mapped.items()} == {
        1: ("day", "low"),
        2: ("day", "high"),
        3: ("id", "equal"),
        4: ("id", "equal"),
    }


def test_representative_values_never_show_in_a_repr() -> None:
    arguments = RepresentativeArguments(("2024-02-10", None))
    assert "2024" not in repr(arguments) and "2024" not in str(arguments)


def test_never_analysed_and_empty_tables_are_told_apart() -> None:
    unanalysed = docs(columns=[ColumnStats(name="id", type="integer", not_null=True)])
    hollow = docs(row_estimate=0, n_live_tup=0)
    assert never_analyzed(unanalysed) and not never_analyzed(docs())
    assert empty(hollow) and not empty(docs())
    assert "ANALYZE public.docs;" in (unknown_tables_reason([unanalysed]) or "")
    assert "empty" in (unknown_tables_reason([hollow]) or "")
    assert unknown_tables_reason([docs()]) is None
