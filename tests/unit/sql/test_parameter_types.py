"""Which parameters of normalized text need a declared numeric type to be plannable."""

from __future__ import annotations

import pytest

from shared.sql.parameter_types import numeric_parameters

CASES = [
    ("SELECT * FROM t WHERE a = $1", set()),
    ("SELECT $1 + $2 FROM t", {1, 2}),
    ("SELECT * FROM t WHERE q BETWEEN $8 + $9 AND $10", {8, 9}),
    ("SELECT sum(CASE WHEN p LIKE $1 THEN $2 ELSE $3 END) FROM t", {2, 3}),
    ("SELECT sum(price * ($1 - discount)) FROM t", set()),  # a column types the expression
    ("SELECT CASE WHEN a THEN b ELSE $1 END FROM t", set()),  # a column types the CASE
    ("not sql at all (", set()),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_numeric_parameters_are_only_those_without_a_typed_neighbour(text: str, expected: set[int]) -> None:
    assert numeric_parameters(text) == expected
