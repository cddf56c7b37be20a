"""The anonymizer, fuzzed: generated statements of every shape, with planted values in every position.

Each generated statement hides marker values (`zq` plus hex digits in strings, comments and dollar
quotes; seven-digit numbers starting 97 in numeric positions) wherever PostgreSQL allows a constant:
comparisons, IN lists, LIKE, BETWEEN, CASE, casts, arrays, JSON operators, LIMIT/OFFSET, VALUES,
INSERT ... ON CONFLICT, UPDATE ... RETURNING, subqueries and CTEs, behind every kind of quoting
(plain, E'', U&'', $$, $tag$) and inside comments. Whatever comes out is either a rejection that
carries nothing but its reason, or a text in which no marker survives and nothing is quoted but
identifiers.
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from agent.anonymize.query_text import AnonymizedStatement, Rejected, anonymize_query
from shared.sql.normalized_text import split_segments

_HEX = "0123456789abcdef"


@st.composite
def marker(draw: st.DrawFn) -> str:
    return "zq" + "".join(draw(st.lists(st.sampled_from(_HEX), min_size=6, max_size=6)))


@st.composite
def number_marker(draw: st.DrawFn) -> str:
    return str(draw(st.integers(9_700_000, 9_799_999)))


@st.composite
def string_constant(draw: st.DrawFn) -> tuple[str, str]:
    """(the marker, the constant as SQL text): every quoting PostgreSQL has."""
    value = draw(marker())
    form = draw(st.sampled_from(["plain", "doubled", "escape", "unicode", "dollar", "tagged", "cast"]))
    sql = {
        "plain": f"'{value}'",
        "doubled": f"'it''s {value}'",
        "escape": f"E'{value}\\n\\''",
        "unicode": f"U&'{value}\\0041'",
        "dollar": f"$${value}$$",
        "tagged": f"$tag${value} ' \" $$ $tag$",
        "cast": f"'{value}'::text",
    }[form]
    return value, sql


@st.composite
def constant(draw: st.DrawFn) -> tuple[str, str]:
    if draw(st.booleans()):
        return draw(string_constant())
    value = draw(number_marker())
    return value, draw(st.sampled_from([value, f"{value}.5", f"-{value}", f"{value}e0", f"{value}::bigint"]))


# Shapes with holes: `{c}` takes any constant, `{s}` a string constant, `{col}` a column.
PREDICATES = [
    "{col} = {c}",
    "{col} IN ({c}, {c})",
    "b LIKE {s}",
    "a BETWEEN {c} AND {c}",
    "CASE WHEN a > {c} THEN {s} ELSE b END = {s}",
    "doc ->> {s} = {s}",
    "doc @> {s}::jsonb",
    "a = ANY (ARRAY[{c}, {c}])",
    "EXISTS (SELECT 1 FROM u WHERE u.x = t.a AND u.y = {c})",
    "lower(b) <> {s} OR a < {c}",
    "b ~* {s}",
    "(a, b) = ({c}, {s})",
]
STATEMENTS = [
    "SELECT a, b FROM t WHERE {where} ORDER BY 1 LIMIT {c} OFFSET {c}",
    "WITH w AS (SELECT a FROM t WHERE {where}) SELECT count(*) FROM w GROUP BY 1",
    "INSERT INTO t (a, b) VALUES ({c}, {c}) ON CONFLICT (a) DO UPDATE SET b = {c}",
    "UPDATE t SET b = {c} WHERE {where} RETURNING a, {c}",
    "DELETE FROM t WHERE {where}",
    "SELECT {c} AS k, coalesce(b, {c}) FROM t WHERE {where}",
    "SELECT * FROM t JOIN u ON u.x = t.a AND u.y = {c} WHERE {where}",
]
_HOLE = re.compile(r"\{(c|s|col|where)\}")


def fill(draw: st.DrawFn, template: str, planted: list[str], where: str = "") -> str:
    """The template with every hole drawn anew; each planted marker is remembered."""

    def hole(match: re.Match[str]) -> str:
        kind = match.group(1)
        if kind == "col":
            return draw(st.sampled_from(["a", "t.b", '"Mixed"', "c"]))
        if kind == "where":
            return where
        value, sql = draw(string_constant() if kind == "s" else constant())
        planted.append(value)
        return sql

    return _HOLE.sub(hole, template)


@st.composite
def statement(draw: st.DrawFn) -> tuple[str, list[str]]:
    planted: list[str] = []
    predicates = draw(st.lists(st.sampled_from(PREDICATES), min_size=1, max_size=3))
    where = " AND ".join(fill(draw, predicate, planted) for predicate in predicates)
    text = fill(draw, draw(st.sampled_from(STATEMENTS)), planted, where)
    if draw(st.booleans()):
        comment = draw(marker())
        planted.append(comment)
        text = draw(
            st.sampled_from(
                [f"/* {comment} */ {text}", f"{text} -- {comment}", f"{text} /* a /* {comment} */ b */"]
            )
        )
    return text, planted


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated=statement())
def test_no_planted_value_survives_anonymization_in_any_position(generated: tuple[str, list[str]]) -> None:
    text, planted = generated
    result = anonymize_query(text)
    if isinstance(result, Rejected):
        event(f"rejected: {result.reason}")
        assert Rejected.__slots__ == ("reason",)  # a rejection can carry nothing of the text
        return
    event("anonymized")
    assert isinstance(result, AnonymizedStatement)
    for value in planted:
        assert value.lower() not in result.query.lower(), (text, result.query)
    assert all(segment.kind in ("code", "identifier") for segment in split_segments(result.query))
    assert "--" not in result.query and "/*" not in result.query


@settings(max_examples=400, deadline=None)
@given(text=st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_any_text_is_anonymized_or_rejected_never_raises(text: str) -> None:
    result = anonymize_query(text)

    assert isinstance(result, AnonymizedStatement | Rejected)
