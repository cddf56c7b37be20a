"""Literal scrubbing for text PostgreSQL itself deparsed: plan expressions and index definitions.

This text comes out of ruleutils (`(email = 'a@b.c'::text)`, `WHERE (amount > (100)::numeric)`), so
it has no parameters to preserve and a very regular shape: strings in single quotes with '' escapes
(E'...' when backslashes are involved) and bare numbers. Both become `?`; casts, identifiers and `$n`
parameter references stay, because they describe the schema and the plan, not the data.
"""

from __future__ import annotations

import re

from shared.sql.normalized_text import split_segments

PLACEHOLDER = "?"

# A number that stands alone: not the tail of an identifier (col1, t2.x), not a parameter ($1), not
# the fractional part of another number, and not a plan node reference (SubPlan 1, InitPlan 2), which
# names a part of the plan rather than a value. Covers PostgreSQL 16's 0x/0o/0b and 1_000 forms.
_NUMERIC_CONSTANT = re.compile(
    r"""
    (?<![\w$.])(?<!SubPlan\ )(?<!InitPlan\ )
    (?:
        0[xX][0-9a-fA-F_]+ | 0[oO][0-7_]+ | 0[bB][01_]+
      | (?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?
    )
    (?![\w$])
    """,
    re.VERBOSE,
)


def scrub_literals(text: str) -> str | None:
    """Replace every string and numeric constant by `?`; None when the text cannot be read with certainty.

    Deparsed expressions never contain comments, dollar quotes or unterminated quotes; meeting one
    means this is not the text we think it is, so nothing is returned rather than a guess.
    """
    parts: list[str] = []
    for segment in split_segments(text):
        if not segment.terminated or segment.kind in ("comment", "dollar_string"):
            return None
        if segment.kind == "string":
            parts.append(PLACEHOLDER)
        elif segment.kind == "code":
            parts.append(_NUMERIC_CONSTANT.sub(PLACEHOLDER, segment.text))
        else:
            parts.append(segment.text)
    return "".join(parts)
