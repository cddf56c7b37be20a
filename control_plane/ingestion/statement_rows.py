"""A snapshot's statements, decoded and validated by msgspec instead of the pydantic models.

The statements are nearly all of a snapshot: 5,000 of them are ~3.1 MB of the ~3.2 MB JSON text.
Through `shared.wire.snapshot.StatementStats` they cost ~65 ms of CPU (parsing, one frozen model and
two Python validator calls each); through `StatementRow` ~9 ms, with the same rules: the same
fields, defaults, bounds, fingerprint pattern and statement types, unknown keys refused. Numbers are
taken as pydantic takes them in JSON (`strict=False`: "5" and 5.0 are a count of 5), except that a
JSON `true` or `false` is refused as a counter (pydantic would read 1 or 0), so are -0.0 as
`toplevel` (pydantic: false) and a time too large for a float (1e999; pydantic: infinity); no agent
sends any of these.
`tests/unit/control_plane/test_statement_rows.py` holds the two to the same answers.

The rest of the snapshot (server, tables, indexes, plans, findings: ~0.2 MB) is still validated by
the pydantic `Snapshot` model, so `StatementStats` remains the one definition of the wire format
(and of the OpenAPI schema); this is the fast path through its largest list.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from typing import Annotated, Final, Literal, TypeVar

import msgspec

from shared.wire.base import BIGINT_MAX, FINGERPRINT_LENGTH, FINGERPRINT_PATTERN
from shared.wire.snapshot import StatementCounters

Count = Annotated[int, msgspec.Meta(ge=0, le=BIGINT_MAX)]
# Finite: 1e999 in JSON reads as infinity, which no counter is (and which repository's array
# literals could not carry: msgspec writes it as null).
Milliseconds = Annotated[float, msgspec.Meta(ge=0, le=sys.float_info.max)]
# The wire's fingerprint (shared.wire.base.Fingerprint). msgspec checks the length; the digits are
# checked for the whole list at once (check_fingerprints): msgspec's regex, run field by field,
# cost 1.6 ms of a 5,000-statement decode.
FingerprintText = Annotated[str, msgspec.Meta(min_length=FINGERPRINT_LENGTH, max_length=FINGERPRINT_LENGTH)]
_HEX_DIGITS: Final = b"0123456789abcdef"

COUNTER_FIELDS: Final = tuple(StatementCounters.model_fields)


class StatementCounterRow(msgspec.Struct, frozen=True, gc=False):
    """A statement's fingerprint and counters: what its raw row and rollups store. `gc=False`: 5,000
    of these are never part of a reference cycle, and keeping them out of the collector's lists
    saves it a traversal of all of them at every collection while a snapshot is in memory.

    A worker reads a stored body's statements this way: its text, type and relations (nearly all
    of the 3.1 MB) are skipped, not built into 5,000 strings and lists; they are needed only for a
    fingerprint the statement catalog does not have yet (DecodedSnapshot.described)."""

    fingerprint: FingerprintText
    calls: Count = 0
    rows: Count = 0
    total_exec_time_ms: Milliseconds = 0.0
    total_plan_time_ms: Milliseconds = 0.0
    shared_blks_hit: Count = 0
    shared_blks_read: Count = 0
    shared_blks_dirtied: Count = 0
    shared_blks_written: Count = 0
    local_blks_hit: Count = 0
    local_blks_read: Count = 0
    temp_blks_read: Count = 0
    temp_blks_written: Count = 0
    blk_read_time_ms: Milliseconds = 0.0
    blk_write_time_ms: Milliseconds = 0.0
    wal_bytes: Count = 0


class StatementRow(StatementCounterRow, forbid_unknown_fields=True, frozen=True, gc=False, kw_only=True):
    """One statement of a snapshot: `StatementStats`, field for field (a text left out is None)."""

    query: str | None = None
    statement_type: Literal["select", "insert", "update", "delete", "merge"]
    relations: list[str] = msgspec.field(default_factory=list)
    toplevel: bool = True


Row = TypeVar("Row", bound=StatementCounterRow)
_ROWS: Final = msgspec.json.Decoder(list[StatementRow], strict=False)
_COUNTER_ROWS: Final = msgspec.json.Decoder(list[StatementCounterRow], strict=False)
# msgspec says where a problem is as `$[3].calls`; pydantic (and so every other 422) as `statements.3.calls`.
_PATH = re.compile(r" - at `\$((?:\[\d+\]|\.\w+)*)`$")


class StatementsRejected(ValueError):
    """The statements' JSON breaks a rule; the message says which, and where, the pydantic way."""


def _located(message: str) -> str:
    found = _PATH.search(message)
    if found is None:
        return f"statements: {message}"
    steps = re.findall(r"\[(\d+)\]|\.(\w+)", found.group(1))
    where = ".".join(["statements", *(index or name for index, name in steps)])
    return f"{where}: {message[: found.start()]}"


def decode_statements(text: bytes | msgspec.Raw) -> list[StatementRow]:
    """The `statements` array of a snapshot's JSON text, validated; StatementsRejected if it is not valid."""
    return _decoded(_ROWS, text)


def decode_statement_counters(text: bytes | msgspec.Raw) -> list[StatementCounterRow]:
    """The fingerprints and counters of the `statements` array, validated as decode_statements
    validates them; the other fields are skipped unread (~3 ms for 5,000 statements, ~8 ms whole)."""
    return _decoded(_COUNTER_ROWS, text)


def _decoded(decoder: msgspec.json.Decoder[list[Row]], text: bytes | msgspec.Raw) -> list[Row]:
    try:
        rows = decoder.decode(text)
    except msgspec.ValidationError as error:
        raise StatementsRejected(_located(str(error))) from None
    except msgspec.DecodeError as error:  # the text around it parsed, so this is rare
        raise StatementsRejected(f"statements: {error}") from None
    check_fingerprints(rows)
    return rows


def all_lowercase_hex(fingerprints: Sequence[str]) -> bool:
    """Whether every one of these is lowercase hex: their ASCII bytes, all together, with the hex
    digits deleted leave nothing (~0.2 ms for 5,000)."""
    joined = "".join(fingerprints)
    return joined.isascii() and not joined.encode("ascii").translate(None, _HEX_DIGITS)


def check_fingerprints(rows: Sequence[StatementCounterRow]) -> None:
    """Every fingerprint (16 characters long, as decoded) is lowercase hex (all_lowercase_hex).
    Otherwise the first that is not is named, as msgspec's pattern named it."""
    if all_lowercase_hex([row.fingerprint for row in rows]):
        return
    pattern = re.compile(FINGERPRINT_PATTERN)
    index = next(i for i, row in enumerate(rows) if not pattern.match(row.fingerprint))
    raise StatementsRejected(
        f"statements.{index}.fingerprint: Expected `str` matching regex {FINGERPRINT_PATTERN!r}"
    )
