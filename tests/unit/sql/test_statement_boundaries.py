"""Workload text may go out over the simple protocol only as exactly one statement."""

from __future__ import annotations

import pytest

from shared.sql.statement_boundaries import NotOneStatement, single_statement

ONE = [
    ("SELECT * FROM t WHERE a = $1", "SELECT * FROM t WHERE a = $1"),
    ("SELECT 1;", "SELECT 1"),
    ("SELECT 1 ; ;\n", "SELECT 1"),
    ("SELECT ';' AS semi", "SELECT ';' AS semi"),
    ('SELECT "a;b" FROM t', 'SELECT "a;b" FROM t'),
    ("SELECT $$;$$", "SELECT $$;$$"),
    ("SELECT $q$ ; DROP TABLE t $q$", "SELECT $q$ ; DROP TABLE t $q$"),
    ("SELECT E'\\'; DROP TABLE t; --'", "SELECT E'\\'; DROP TABLE t; --'"),
    ("/* lead; */ SELECT 1 -- trail; x", "  SELECT 1"),
    ("SELECT 1 /* a /* nested; */ still; */", "SELECT 1"),
]


@pytest.mark.parametrize(("text", "statement"), ONE)
def test_one_statement_comes_back_without_comments_or_closing_semicolons(text: str, statement: str) -> None:
    assert single_statement(text) == statement


MANY = [
    ("two statements", "SELECT 1; SELECT 2"),
    ("a statement after a string", "SELECT 'x'; DROP TABLE t"),
    ("after a nested comment", "SELECT 1 /* /* */ */; DROP TABLE t"),
    ("after an escape string", "SELECT E'\\\\'; DROP TABLE t"),
    ("after a dollar quote", "SELECT $$x$$; DROP TABLE t"),
    ("unterminated string", "SELECT 'x; DROP TABLE t"),
    ("unterminated comment", "SELECT 1 /* ; DROP TABLE t"),
    ("nothing", " ; ; "),
    ("only a comment", "-- nothing here"),
]


@pytest.mark.parametrize("text", [text for _, text in MANY], ids=[name for name, _ in MANY])
def test_anything_but_exactly_one_statement_is_refused_without_quoting_it(text: str) -> None:
    with pytest.raises(NotOneStatement) as refusal:
        single_statement(text)

    assert "DROP" not in str(refusal.value)
