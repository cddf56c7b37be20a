"""Scrubbing of index definitions as `pg_get_indexdef()` prints them.

Partial-index predicates and expression indexes quote constants
(`... WHERE ((status)::text = 'pending'::text)`), which may be customer data; the rest of the
definition (names, access method, columns, operator classes) is schema and is kept.
"""

from __future__ import annotations

import re

from agent.anonymize.literals import scrub_literals
from shared.sql.normalized_text import split_segments

# pg_get_indexdef always starts this way and always names the access method.
_DEFINITION_START = re.compile(r"CREATE (?:UNIQUE )?INDEX ")
_ACCESS_METHOD = re.compile(r" USING \w+ \(")


def scrub_index_definition(definition: str) -> str | None:
    """The definition with every literal replaced by `?`, or None when it does not look like one we know."""
    segments = split_segments(definition)
    if not segments or segments[0].kind != "code" or not _DEFINITION_START.match(segments[0].text):
        return None
    if not any(segment.kind == "code" and _ACCESS_METHOD.search(segment.text) for segment in segments):
        return None
    return scrub_literals(definition)
