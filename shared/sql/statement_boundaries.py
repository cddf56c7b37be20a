"""Exactly one statement: the check that lets workload text go out over the simple query protocol.

The simple protocol runs every statement a string holds, so text the agent did not write (EXPLAIN of a
statement from pg_stat_statements) is cut with the PostgreSQL-faithful scanner of
`shared.sql.normalized_text` (strings, quoted identifiers, dollar quotes, nested comments) and is
refused unless every semicolon outside quotes ends it. Comments are dropped on the way: they are
where readers and lexers disagree most (PostgreSQL nests block comments, most tools do not), and
the planner has no use for them.
"""

from __future__ import annotations

from shared.sql.normalized_text import split_segments


class NotOneStatement(ValueError):
    """The text holds no statement, more than one, or ends inside a quote. Quotes none of it."""


def single_statement(text: str) -> str:
    """The one statement in `text`, without comments or trailing semicolons; NotOneStatement otherwise."""
    parts: list[str] = []
    for segment in split_segments(text):
        if not segment.terminated:
            raise NotOneStatement("the text ends inside a quote or a comment")
        if segment.kind == "comment":
            parts.append(" ")
        else:
            parts.append(segment.text)
    # Trailing semicolons and white space close the statement (a terminated quote ends in its quote
    # character, so this never reaches into one); any other semicolon outside quotes starts a second.
    statement = "".join(parts).rstrip(" \t\r\n;")
    if any(segment.kind == "code" and ";" in segment.text for segment in split_segments(statement)):
        raise NotOneStatement("the text holds more than one statement")
    if not statement.strip():
        raise NotOneStatement("the text holds no statement")
    return statement
