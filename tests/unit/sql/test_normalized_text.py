"""Repairs of pg_stat_statements' normalized text, and the scanner that keeps them out of quotes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.sql.normalized_text import max_parameter_number, repair_normalized_text, split_segments
from shared.sql.parsing import parse_single_statement

REPAIRS = [
    pytest.param("select date $1", "select $1::date", id="date"),
    pytest.param("select DATE $1", "select $1::date", id="date-uppercase"),
    pytest.param("select time $1", "select $1::time", id="time"),
    pytest.param("select timestamp $1", "select $1::timestamp", id="timestamp"),
    pytest.param("select timestamptz $1", "select $1::timestamptz", id="timestamptz"),
    pytest.param(
        "select timestamp with time zone $1", "select $1::timestamp with time zone", id="timestamp-with-zone"
    ),
    pytest.param(
        "select timestamp  without\ntime zone $1",
        "select $1::timestamp without time zone",
        id="timestamp-without-zone-odd-spacing",
    ),
    pytest.param("select timestamp(3) $1", "select $1::timestamp(3)", id="timestamp-precision"),
    pytest.param("select jsonb $1", "select $1::jsonb", id="jsonb"),
    pytest.param("select double precision $1", "select $1::double precision", id="double-precision"),
    pytest.param("where d > now() - interval $2", "where d > now() - $2::interval", id="interval"),
    pytest.param("where d > now() - interval $2 day", "where d > now() - $2::interval", id="interval-day"),
    pytest.param("select interval $2 month", "select $2::interval", id="interval-month"),
    pytest.param("select interval $1 year to month", "select $1::interval", id="interval-year-to-month"),
    pytest.param("select interval $1 second(3)", "select $1::interval", id="interval-second-precision"),
    pytest.param("select extract($3 from x) from t", "select date_part($3, x) from t", id="extract"),
    pytest.param("select EXTRACT ( $3 FROM x)", "select date_part($3, x)", id="extract-spacing"),
    pytest.param("select f($1,$2)", "select f($1, $2)", id="comma-dollar"),
    pytest.param("in ($1,$2,$3)", "in ($1, $2, $3)", id="comma-dollar-list"),
    pytest.param("select $1||$2", "select $1|| $2", id="operator-dollar"),
    pytest.param("select $1::int,$2", "select $1::int, $2", id="cast-comma-dollar"),
    pytest.param("select date $1,$2", "select $1::date, $2", id="two-repairs-at-once"),
    pytest.param("select x at time zone $1", "select x at time zone $1", id="at-time-zone-is-not-a-type"),
    pytest.param("select current_date - $1", "select current_date - $1", id="identifier-ending-in-date"),
    pytest.param("select t.date $1", "select t.date $1", id="qualified-column-named-date"),
    pytest.param("select a$b,$2", "select a$b,$2", id="identifier-with-dollar"),
    pytest.param("select $1, $2", "select $1, $2", id="already-valid"),
]


@pytest.mark.parametrize(("text", "repaired"), REPAIRS)
def test_repair_normalized_text(text: str, repaired: str) -> None:
    assert repair_normalized_text(text) == repaired


@pytest.mark.parametrize(("text", "repaired"), REPAIRS)
def test_repair_is_idempotent(text: str, repaired: str) -> None:
    assert repair_normalized_text(repaired) == repaired


UNTOUCHED = [
    pytest.param("select 'date $1' from t", id="single-quoted"),
    pytest.param("select E'it\\'s date $1,$2' from t", id="escape-string-with-backslash-quote"),
    pytest.param("select 'it''s interval $1 day' from t", id="doubled-quote"),
    pytest.param('select "date $1" from t', id="quoted-identifier"),
    pytest.param("select $$extract($1 from x)$$", id="dollar-quoted"),
    pytest.param("select $fn$ date $1 $fn$", id="tagged-dollar-quote"),
    pytest.param("select 1 -- date $1", id="line-comment"),
    pytest.param("select 1 /* date $1 /* nested */ $1,$2 */", id="nested-block-comment"),
]


@pytest.mark.parametrize("text", UNTOUCHED)
def test_repair_leaves_quotes_and_comments_alone(text: str) -> None:
    assert repair_normalized_text(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "select * from t where a in ($1,$2,$3) /* app */",
        "select date $1, timestamp with time zone $2, interval $3 day",
        "select extract($1 from created_at), count(*) from t group by 1",
        "select * from t where ts > now() - interval $1 year to month and x = any($2)",
    ],
)
def test_repaired_text_parses(text: str) -> None:
    parse_single_statement(repair_normalized_text(text))


@pytest.mark.parametrize(
    ("text", "highest"),
    [
        ("select 1", 0),
        ("select $1", 1),
        ("select $3, $12, $2", 12),
        ("select '$99', \"$98\", $$ $97 $$ -- $96\n, $4", 4),
        ("select a$5 from t", 0),
        ("/* $7 */ select $2", 2),
    ],
)
def test_max_parameter_number_ignores_quotes_comments_and_identifiers(text: str, highest: int) -> None:
    assert max_parameter_number(text) == highest


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("select 'a''b', x", ["code", "string", "code"]),
        ("select e'a\\'b'", ["code", "string"]),
        ("select date'x'", ["code", "string"]),
        (
            "select U&'x', B'01', X'ff', N'n'",
            ["code", "string", "code", "string", "code", "string", "code", "string"],
        ),
        ('select "a""b"', ["code", "identifier"]),
        ("select $q$ ' $q$, $1", ["code", "dollar_string", "code"]),
        ("select 1 -- x\n", ["code", "comment", "code"]),
    ],
)
def test_split_segments_follows_postgresql_quoting(text: str, kinds: list[str]) -> None:
    assert [segment.kind for segment in split_segments(text)] == kinds


@pytest.mark.parametrize("text", ["select 'abc", "select $$abc", 'select "abc', "select /* /* */"])
def test_split_segments_flags_unterminated_quotes(text: str) -> None:
    assert not split_segments(text)[-1].terminated


SQLISH = st.text(alphabet=st.sampled_from(list("$1234,'\"()-/* \n\\eEdateintrvlxfom")), max_size=60)


@given(SQLISH)
def test_split_segments_loses_nothing(text: str) -> None:
    assert "".join(segment.text for segment in split_segments(text)) == text


@given(SQLISH)
def test_repair_is_idempotent_on_any_text(text: str) -> None:
    once = repair_normalized_text(text)
    assert repair_normalized_text(once) == once
