"""Error messages that leave the agent: PostgreSQL quotes values in them, so every quoted part goes.

`invalid input syntax for type integer: "42abc"` or `Key (email)=(a@b.c) already exists` can carry
a literal from the workload. Job results only need the shape of the failure, so anything quoted,
any parenthesized key detail and every number becomes `?`. Identifiers are lost too; the control
plane knows which statement and which candidate the error belongs to.
"""

from __future__ import annotations

import re

MAX_ERROR_CHARS = 500
_QUOTED = re.compile(r""""(?:[^"]|"")*"?|'(?:[^']|'')*'?""")
_KEY_DETAIL = re.compile(r"\)=\([^)]*\)")
_NUMBER = re.compile(r"(?<![\w$.])\d[\d_.]*(?:[eE][+-]?\d+)?(?![\w$])")


def scrub_error_message(message: str) -> str:
    first_line = (message.splitlines() or [""])[0]
    scrubbed = _NUMBER.sub("?", _KEY_DETAIL.sub(")=(?)", _QUOTED.sub("?", first_line)))
    return scrubbed[:MAX_ERROR_CHARS]


def scrub_error(error: BaseException) -> str:
    """The error's first line, scrubbed; its type name when nothing of the message is left."""
    return scrub_error_message(str(error)) or type(error).__name__
