"""PostgreSQL lexing just deep enough to find quotes and comments, and repairs of pg_stat_statements text.

pg_stat_statements replaces constants by `$n` but keeps everything around them, which leaves some texts
that are no longer valid SQL (`date $1` was `date '1998-12-01'`) or that sqlglot's tokenizer rejects
(`f($1,$2)`). The repairs here turn them back into equivalent valid SQL. They only ever touch code:
text inside strings, quoted identifiers, dollar quotes and comments is left byte for byte.

The scanner follows PostgreSQL's lexer with standard_conforming_strings on (the default since 9.1):
backslashes escape only inside E'...' strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

SegmentKind = Literal["code", "string", "identifier", "dollar_string", "comment"]


@dataclass(frozen=True, slots=True)
class Segment:
    kind: SegmentKind
    text: str
    # False when the input ended inside the quote or comment: callers that must be sure where data
    # ends (the anonymizer) give up on such text.
    terminated: bool = True


# Where something other than plain code starts. A string prefix (E, B, X, N, U&) or a dollar quote
# only counts when it is not the tail of an identifier: `date'x'` is the identifier date and a plain
# string, and `a$b$` is one identifier.
_QUOTE_START = re.compile(
    r"""
      (?P<line_comment>--)
    | (?P<block_comment>/\*)
    | (?P<escape_string>(?<![\w$])[eE]')
    | (?P<string>(?:(?<![\w$])(?:[bBxXnN]|[uU]&))?')
    | (?P<identifier>")
    | (?P<dollar_string>(?<![\w$])\$(?:[^\W\d]\w*)?\$)
    """,
    re.VERBOSE,
)
_ESCAPE_STRING_REST = re.compile(r"(?:[^'\\]++|\\.|'')*+'", re.DOTALL)
_STRING_REST = re.compile(r"(?:[^']++|'')*+'")
_IDENTIFIER_REST = re.compile(r'(?:[^"]++|"")*+"')
_BLOCK_COMMENT_TOKEN = re.compile(r"/\*|\*/")

_PARAMETER = re.compile(r"(?<![\w$])\$(\d+)")


def split_segments(text: str) -> list[Segment]:
    """Cut text into code and quoted/comment segments; joining the texts gives back the input."""
    segments: list[Segment] = []
    position = 0
    length = len(text)
    while position < length:
        start = _QUOTE_START.search(text, position)
        if start is None:
            segments.append(Segment("code", text[position:]))
            break
        if start.start() > position:
            segments.append(Segment("code", text[position : start.start()]))
        kind = start.lastgroup
        end: int | None
        if kind == "line_comment":
            newline = text.find("\n", start.end())
            end = length if newline == -1 else newline
            segments.append(Segment("comment", text[start.start() : end]))
            position = end
            continue
        if kind == "block_comment":
            end = _block_comment_end(text, start.end())
            segment_kind: SegmentKind = "comment"
        elif kind == "dollar_string":
            closing = text.find(start.group(), start.end())
            end = None if closing == -1 else closing + len(start.group())
            segment_kind = "dollar_string"
        else:
            rest = {
                "escape_string": _ESCAPE_STRING_REST,
                "string": _STRING_REST,
                "identifier": _IDENTIFIER_REST,
            }[kind or ""]
            match = rest.match(text, start.end())
            end = None if match is None else match.end()
            segment_kind = "identifier" if kind == "identifier" else "string"
        if end is None:
            segments.append(Segment(segment_kind, text[start.start() :], terminated=False))
            break
        segments.append(Segment(segment_kind, text[start.start() : end]))
        position = end
    return segments


def _block_comment_end(text: str, position: int) -> int | None:
    # PostgreSQL block comments nest, unlike the SQL standard's.
    depth = 1
    for token in _BLOCK_COMMENT_TOKEN.finditer(text, position):
        depth += 1 if token.group() == "/*" else -1
        if depth == 0:
            return token.end()
    return None


def max_parameter_number(text: str) -> int:
    """The highest `$n` used as a parameter (outside quotes and comments), 0 when there is none."""
    highest = 0
    for segment in split_segments(text):
        if segment.kind == "code":
            for match in _PARAMETER.finditer(segment.text):
                highest = max(highest, int(match.group(1)))
    return highest


# `<type> 'literal'` became `<type> $n`. Only type names are listed: an identifier directly followed by
# a parameter is never valid SQL otherwise, but keywords such as ZONE (`AT TIME ZONE $1`) are.
_PRECISION = r"(?:\s*\(\s*\d+\s*\))?"
_TYPED_LITERAL = re.compile(
    rf"""
    (?<![\w$.])
    (?P<type>
        (?:timestamp|time){_PRECISION}(?:\s+with(?:out)?\s+time\s+zone)?
      | timestamptz{_PRECISION} | timetz{_PRECISION} | date
      | double\s+precision | character\s+varying | bool(?:ean)? | int[248]? | integer | smallint | bigint
      | numeric | decimal | real | float[48] | text | varchar | char | bpchar | jsonb? | uuid | inet
      | cidr | bytea | money | point
    )
    \s+\$(?P<number>\d+)(?![\w$])
    """,
    re.VERBOSE | re.IGNORECASE,
)
_INTERVAL_FIELD = rf"(?:year|month|day|hour|minute|second){_PRECISION}"
_INTERVAL_LITERAL = re.compile(
    rf"(?<![\w$.])interval\s+\$(?P<number>\d+)(?:\s+{_INTERVAL_FIELD}(?:\s+to\s+{_INTERVAL_FIELD})?)?(?![\w$])",
    re.IGNORECASE,
)
# `extract(year from x)` became `extract($1 from x)`; date_part is the function form of the same thing.
_EXTRACT_PARAMETER = re.compile(r"(?<![\w$.])extract\s*\(\s*\$(?P<number>\d+)\s+from\s", re.IGNORECASE)
# sqlglot reads `$1,$2` as the start of a dollar quote tagged `1,`: a `$` followed by anything but
# whitespace up to the next `$`. A space before the second parameter breaks the would-be tag. The
# second `$` must not end an identifier (`a$2`), which a space would split in two.
_CRAMMED_PARAMETERS = re.compile(r"(?<![\w$])(\$\d+[^\s$]*(?<![\w$]))(?=\$\d)")


def _repair_code(code: str) -> str:
    code = _TYPED_LITERAL.sub(
        lambda m: f"${m.group('number')}::{' '.join(m.group('type').lower().split())}", code
    )
    code = _INTERVAL_LITERAL.sub(lambda m: f"${m.group('number')}::interval", code)
    code = _EXTRACT_PARAMETER.sub(lambda m: f"date_part(${m.group('number')}, ", code)
    return _CRAMMED_PARAMETERS.sub(r"\1 ", code)


def repair_normalized_text(text: str) -> str:
    """Turn pg_stat_statements' normalized text back into SQL that PostgreSQL and sqlglot both accept.

    Idempotent, and the identity on text that needs no repair.
    """
    return "".join(
        _repair_code(segment.text) if segment.kind == "code" else segment.text
        for segment in split_segments(text)
    )
