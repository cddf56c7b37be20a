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
from collections.abc import Iterable
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


# Characters where something other than plain code may start. Only these are searched for (a regex
# alternative per string prefix letter made the scan several times slower); prefixes are looked up
# behind a quote afterwards.
_SPECIAL = re.compile(r"--|/\*|['\"$]")
_DOLLAR_TAG = re.compile(r"\$(?:[^\W\d]\w*)?\$")
_ESCAPE_STRING_REST = re.compile(r"(?:[^'\\]++|\\.|'')*+'", re.DOTALL)
_STRING_REST = re.compile(r"(?:[^']++|'')*+'")
_IDENTIFIER_REST = re.compile(r'(?:[^"]++|"")*+"')
_BLOCK_COMMENT_TOKEN = re.compile(r"/\*|\*/")

# Patterns start with the literal `$` where they can: the regex engine then skips ahead to each `$`
# instead of trying every position (the lookbehind sits after it).
PARAMETER = re.compile(r"\$(?<![\w$]\$)(\d+)")


def _ends_identifier(text: str, index: int) -> bool:
    """Whether text[index] would continue an identifier, so a prefix or `$` there is not a quote."""
    if index < 0:
        return False
    char = text[index]
    return char.isalnum() or char in "_$"


def _quote_prefix_length(text: str, quote: int) -> tuple[int, bool]:
    """(length of the E/B/X/N/U& prefix before the quote at `quote`, whether backslashes escape)."""
    # `date'x'` is the identifier date and a plain string: a prefix must not end an identifier.
    if quote >= 1 and text[quote - 1] in "eEbBxXnN" and not _ends_identifier(text, quote - 2):
        return 1, text[quote - 1] in "eE"
    if quote >= 2 and text[quote - 2 : quote] in ("u&", "U&") and not _ends_identifier(text, quote - 3):
        return 2, False
    return 0, False


def split_segments(text: str) -> list[Segment]:
    """Cut text into code and quoted/comment segments; joining the texts gives back the input."""
    segments: list[Segment] = []
    position = 0  # start of the pending code segment
    scan = 0
    length = len(text)
    while scan < length:
        special = _SPECIAL.search(text, scan)
        if special is None:
            break
        start, opener = special.start(), special.group()
        end: int | None
        if opener == "$":
            tag = None if _ends_identifier(text, start - 1) else _DOLLAR_TAG.match(text, start)
            if tag is None:  # a parameter ($1) or part of an identifier: still code
                scan = start + 1
                continue
            closing = text.find(tag.group(), tag.end())
            end = None if closing == -1 else closing + len(tag.group())
            kind: SegmentKind = "dollar_string"
        elif opener == "--":
            newline = text.find("\n", start)
            end = length if newline == -1 else newline
            kind = "comment"
        elif opener == "/*":
            end = _block_comment_end(text, special.end())
            kind = "comment"
        elif opener == '"':
            match = _IDENTIFIER_REST.match(text, special.end())
            end = None if match is None else match.end()
            kind = "identifier"
        else:
            prefix, backslash_escapes = _quote_prefix_length(text, start)
            start -= prefix
            rest = _ESCAPE_STRING_REST if backslash_escapes else _STRING_REST
            match = rest.match(text, special.end())
            end = None if match is None else match.end()
            kind = "string"
        if start > position:
            segments.append(Segment("code", text[position:start]))
        if end is None:
            segments.append(Segment(kind, text[start:], terminated=False))
            return segments
        segments.append(Segment(kind, text[start:end]))
        position = scan = end
    if position < length:
        segments.append(Segment("code", text[position:]))
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
    return max_parameter_number_in(split_segments(text))


def max_parameter_number_in(segments: Iterable[Segment]) -> int:
    """max_parameter_number for text that is already split, so callers scan it only once."""
    highest = 0
    for segment in segments:
        if segment.kind == "code":
            for match in PARAMETER.finditer(segment.text):
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
_CRAMMED_PARAMETERS = re.compile(r"(\$(?<![\w$]\$)\d+[^\s$]*(?<![\w$]))(?=\$\d)")
# Every typed literal repair needs whitespace before a parameter: a cheap test that spares most texts
# the costly type-name alternation.
_SPACED_PARAMETER = re.compile(r"\s\$\d")


def _repair_code(code: str) -> str:
    if "$" not in code:
        return code
    if _SPACED_PARAMETER.search(code):
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
