"""Fingerprints: one per statement shape, whatever the spacing, case, comments or list lengths."""

from __future__ import annotations

import re

import pytest

from shared.sql.fingerprint import canonical_text, fingerprint_of, fingerprint_text
from shared.sql.parsing import parse_single_statement, to_postgres_sql

SAME_SHAPE = [
    pytest.param(
        [
            "select * from orders where id in ($1,$2)",
            "select * from orders where id in ($1, $2, $3)",
            "SELECT *\n  FROM Orders\n WHERE ID IN ($7)",
            "select * from orders /* dashboard */ where id in ($1) -- trailing",
            "select * from orders where id in (?, ?)",
        ],
        id="in-list-length-spacing-case-comments",
    ),
    pytest.param(
        [
            "insert into t (a, b) values ($1, $2)",
            "insert into t (a, b) values ($1, $2), ($3, $4), ($5, $6)",
        ],
        id="multi-row-values",
    ),
    pytest.param(
        ["select $1 = any(array[$2, $3])", "select $1 = any(array[$2])"],
        id="array-length",
    ),
    pytest.param(
        [
            "select created_at::date from t where d > $1::date",
            "select cast(created_at as date) from t where d > date $1",
        ],
        id="cast-spellings-and-typed-literal",
    ),
    pytest.param(
        ["select extract($1 from x) from t", "select date_part($1, x) from t"],
        id="extract-and-date-part",
    ),
]


@pytest.mark.parametrize("texts", SAME_SHAPE)
def test_fingerprint_is_shared_by_variants_of_one_statement(texts: list[str]) -> None:
    fingerprints = {fingerprint_text(text) for text in texts}
    assert len(fingerprints) == 1
    assert None not in fingerprints


DIFFERENT_SHAPES = [
    pytest.param(["select * from orders where id = $1", "select * from customers where id = $1"], id="table"),
    pytest.param(
        ["select * from orders where id = $1", "select * from orders where total = $1"], id="column"
    ),
    pytest.param(["select * from t where a = $1", "select * from t where a > $1"], id="operator"),
    pytest.param(
        ["select * from t where a in ($1)", "select * from t where a in ($1, b)"], id="in-list-with-column"
    ),
    pytest.param(["select a from t order by 1", "select a from t order by 2"], id="order-by-position"),
    pytest.param(['select * from "Orders"', "select * from orders"], id="quoted-identifier-case"),
    pytest.param(["select * from public.t", "select * from other.t"], id="schema"),
]


@pytest.mark.parametrize("texts", DIFFERENT_SHAPES)
def test_fingerprint_differs_between_statements(texts: list[str]) -> None:
    fingerprints = [fingerprint_text(text) for text in texts]
    assert len(set(fingerprints)) == len(texts)
    assert None not in fingerprints


def test_fingerprint_is_sixteen_lowercase_hex_characters() -> None:
    fingerprint = fingerprint_text("select * from t where a = $1")
    assert fingerprint is not None
    assert re.fullmatch(r"[0-9a-f]{16}", fingerprint)


def test_fingerprint_is_stable_across_runs_and_machines() -> None:
    # sha256 of the canonical text, not Python's salted hash(). Stored fingerprints depend on this
    # value: it may only change with a deliberate change of the canonical form (or of sqlglot).
    assert (
        canonical_text(parse_single_statement("select * from t where a = $1"))
        == "SELECT * FROM t WHERE a = ?"
    )
    assert fingerprint_text("select * from t where a = $1") == "45fbc19f0e8192e6"


def test_fingerprint_of_leaves_the_expression_untouched() -> None:
    expression = parse_single_statement("select * from t where a in ($1, $2) and b = $3")
    before = to_postgres_sql(expression)
    fingerprint_of(expression)
    assert to_postgres_sql(expression) == before


@pytest.mark.parametrize("text", ["", "select 1; select 2", "garbage garbage ((", "select 'unterminated"])
def test_fingerprint_text_is_none_for_anything_but_one_statement(text: str) -> None:
    assert fingerprint_text(text) is None
