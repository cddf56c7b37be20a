"""Turning a request body into a validated Snapshot, or a 4xx that says exactly what is wrong.

A malformed payload is rejected whole: nothing is stored from a body that fails any check.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Final, Protocol, TypeVar, cast

import msgspec
from fastapi import HTTPException, status
from isal import isal_zlib
from pydantic import TypeAdapter, ValidationError

from control_plane.ingestion.schema_writes import schema_shape
from control_plane.ingestion.statement_rows import (
    Row,
    StatementCounterRow,
    StatementRow,
    StatementsRejected,
    check_fingerprints,
    decode_statement_counters,
    decode_statements,
)
from shared.wire.base import NUL_FREE, json_holds_nul
from shared.wire.snapshot import (
    SNAPSHOT_SCHEMA_VERSION,
    TEXT_OPTIONAL_FROM,
    IndexStats,
    Snapshot,
    TableStats,
    missing_text_message,
)

# The versions this control plane accepts: the current one and the previous one, so agents can be
# upgraded after the control plane. Version 2 is version 3 with every statement's text.
SUPPORTED_SCHEMA_VERSIONS = (SNAPSHOT_SCHEMA_VERSION - 1, SNAPSHOT_SCHEMA_VERSION)
# The top level's members, each kept as its JSON text: ~2 ms for 3.2 MB (it still checks the syntax).
_MEMBERS: Final = msgspec.json.Decoder(dict[str, msgspec.Raw])
# The schema statistics as JSON, both ways: validated here, written by the repository.
TABLE_STATS_JSON: Final = TypeAdapter(list[TableStats])
INDEX_STATS_JSON: Final = TypeAdapter(list[IndexStats])
_EMPTY_LIST: Final = msgspec.Raw(b"[]")


_Row_co = TypeVar("_Row_co", bound=StatementCounterRow, covariant=True)
Stats = TypeVar("Stats", TableStats, IndexStats)


class _SnapshotText(Protocol[_Row_co]):
    """A snapshot's whole text as one pass decodes it (_document)."""

    __struct_fields__: tuple[str, ...]

    @property
    def statements(self) -> Sequence[_Row_co]: ...


def _document(name: str, statements: type[Row]) -> msgspec.json.Decoder[_SnapshotText[Row]]:
    """A snapshot's whole text in one pass: its statements decoded (as `statements` rows), every
    other member of the model kept as its JSON text (empty when absent), any other member refused.
    Split first and then decoded, the statements' 3.1 MB were parsed twice: one pass took a check
    from ~15.4 to ~12.3 ms, a worker's decode from ~7.5 to ~5.7 (2026-12-06)."""
    rest = [member for member in Snapshot.model_fields if member != "statements"]
    text = msgspec.defstruct(
        name,
        [("statements", list[statements], []), *((member, msgspec.Raw, msgspec.Raw()) for member in rest)],  # type: ignore[valid-type]
        forbid_unknown_fields=True,
        gc=False,
    )
    return cast("msgspec.json.Decoder[_SnapshotText[Row]]", msgspec.json.Decoder(text, strict=False))


_WHOLE: Final = _document("SnapshotText", StatementRow)
_COUNTERS: Final = _document("SnapshotCounterText", StatementCounterRow)


_GZIP_MAGIC: Final = b"\x1f\x8b"
_INFLATE_ERROR: Final[type[Exception]] = isal_zlib.error  # type: ignore[assignment]  # the stub says an instance


class PayloadRejected(HTTPException):
    def __init__(self, status_code: int, detail: str, code: str) -> None:
        super().__init__(status_code, detail={"message": detail, "code": code})
        self.message, self.code = detail, code


async def read_capped(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise PayloadRejected(
                status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, f"body larger than {limit} bytes", "too_large"
            )
    return bytes(body)


def decompress(body: bytes, encoding: str | None, limit: int) -> bytes:
    if not encoding or encoding.lower() == "identity":
        return body
    if encoding.lower() != "gzip":
        raise PayloadRejected(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, f"unsupported encoding {encoding!r}", "encoding"
        )
    # ISA-L's inflate, zlib's interface: 1.5 ms for a 5,000-statement snapshot (3.3 MB) where zlib
    # took 3.9 ms, paid when a request is checked and again when a worker stores it. It returns
    # nothing (not an error) for a stream that is not gzip at all, hence the magic number first.
    not_gzip = PayloadRejected(status.HTTP_400_BAD_REQUEST, "body is not valid gzip", "bad_gzip")
    if not body.startswith(_GZIP_MAGIC):
        raise not_gzip
    inflater = isal_zlib.decompressobj(wbits=31)
    try:
        data = inflater.decompress(body, limit + 1)
    except _INFLATE_ERROR:
        raise not_gzip from None
    if len(data) > limit:
        raise PayloadRejected(
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            f"decompressed body larger than {limit} bytes",
            "too_large",
        )
    if not inflater.eof:
        raise PayloadRejected(status.HTTP_400_BAD_REQUEST, "gzip body is truncated", "bad_gzip")
    if inflater.unused_data:  # a second member, or junk: an agent sends one member, nothing after it
        raise PayloadRejected(status.HTTP_400_BAD_REQUEST, "bytes after the gzip stream", "bad_gzip")
    return data


def _describe(error: ValidationError, within: tuple[str, ...] = ()) -> str:
    """The first problems, each where it is (`within` the member validated alone, if so)."""
    problems = [
        f"{'.'.join(str(p) for p in (*within, *item['loc']))}: {item['msg']}" for item in error.errors()[:5]
    ]
    more = f" (and {error.error_count() - 5} more)" if error.error_count() > 5 else ""
    return "; ".join(problems) + more


@dataclass(frozen=True)
class DecodedSnapshot:
    """A validated snapshot: its statements' fingerprints and counters as rows, everything else as
    the `Snapshot` model (whose own `statements` is left empty: they are here, not there)."""

    snapshot: Snapshot
    statements: Sequence[StatementCounterRow]
    # The statements whole: as decoded when a request's body was checked, or, after a worker's
    # counters-only decode, the snapshot's JSON text, decoded whole only if asked (see `described`).
    whole: Sequence[StatementRow] | bytes
    # After a counters-only decode, the `tables` and `indexes` members' JSON text (the snapshot's
    # own lists are then empty); None when they are decoded in `snapshot`.
    schema_text: tuple[msgspec.Raw, msgspec.Raw] | None = None

    @property
    def snapshot_id(self) -> uuid.UUID:
        return self.snapshot.snapshot_id

    def described(self) -> Sequence[StatementRow]:
        """Every statement with its text, type and relations: what a statement new to the catalog
        is stored with. Each call of a counters-only decode's decodes the text again (~7 ms)."""
        if not isinstance(self.whole, bytes):
            return self.whole
        try:
            return _checked(_WHOLE.decode(self.whole).statements)
        except msgspec.MsgspecError:  # a text only the member-by-member decode takes (a repeated key)
            return decode_statements(_MEMBERS.decode(self.whole).get("statements", _EMPTY_LIST))

    def schema_shape(self) -> bytes | None:
        """What the tables' and indexes' statistics name, as a digest (schema_writes): from their
        JSON text after a counters-only decode, without validating it again (~0.2 ms)."""
        if self.schema_text is None:
            tables_json = TABLE_STATS_JSON.dump_json(self.snapshot.tables)
            indexes_json = INDEX_STATS_JSON.dump_json(self.snapshot.indexes)
            return schema_shape(tables_json, indexes_json)
        tables, indexes = self.schema_text
        return schema_shape(bytes(tables), bytes(indexes))

    def schema_stats(self) -> tuple[list[TableStats], list[IndexStats]]:
        """The tables' and indexes' statistics, validated: as decoded when a request's body was
        checked, or, after a worker's counters-only decode, from their JSON text now (~2.6 ms for
        120 tables and their indexes). A worker stores only the latest snapshot's of a batch
        (IngestionService.store): the others' are never decoded."""
        if self.schema_text is None:
            return self.snapshot.tables, self.snapshot.indexes
        tables, indexes = self.schema_text
        return (
            _validated(TABLE_STATS_JSON, tables, "tables"),
            _validated(INDEX_STATS_JSON, indexes, "indexes"),
        )


def _validated(adapter: TypeAdapter[list[Stats]], text: msgspec.Raw, member: str) -> list[Stats]:
    """A member of the schema statistics, validated alone: a problem is named as the whole
    snapshot's validation names it (`tables.3.n_live_tup`)."""
    try:
        return adapter.validate_json(bytes(text), context=NUL_FREE)
    except ValidationError as error:
        raise _invalid(_describe(error, within=(member,))) from None


def _invalid(message: str) -> PayloadRejected:
    return PayloadRejected(status.HTTP_422_UNPROCESSABLE_CONTENT, message, "invalid")


def _checked(statements: Sequence[Row]) -> Sequence[Row]:
    check_fingerprints(statements)
    return statements


def parse_snapshot(data: bytes, counters_only: bool = False) -> DecodedSnapshot:
    """Every rule of `shared.wire.snapshot.Snapshot`, in ~12 ms for 5,000 statements instead of
    ~85 ms: the statements go through msgspec (see statement_rows) in the one pass that reads the
    top level, and only the rest (~0.2 MB of ~3.2 MB) through the pydantic model.

    `counters_only` (a worker storing a body accepted before, through these same checks) reads only
    the statements' fingerprints and counters (~6 ms in all): their text is read for a new one alone;
    it leaves the tables' and indexes' statistics as text until they are asked for (schema_stats);
    and it does not look for NUL characters again.

    A text the one pass refuses is read again member by member (_parse_in_members), whose answer
    says what is wrong and where, in the order the rules are checked: a JSON object first, then a
    version this control plane accepts, then the statements, then the rest."""
    whole: Sequence[StatementRow] | bytes
    try:
        if counters_only:
            document: _SnapshotText[StatementCounterRow] = _COUNTERS.decode(data)
            whole = data
        else:
            document = described = _WHOLE.decode(data)
            whole = described.statements
    except msgspec.MsgspecError:
        return _parse_in_members(data, counters_only)
    members = {
        name: raw
        for name in document.__struct_fields__
        if name != "statements" and (raw := getattr(document, name))
    }
    version = _check_version(members.get("schema_version"))
    _check_nul(data, counters_only)
    try:
        statements = _checked(document.statements)
    except StatementsRejected as error:
        raise _invalid(str(error)) from None
    if not isinstance(whole, bytes):  # decoded whole, texts included: a request's check
        _check_texts(data, version, whole)
    return _decoded(members, statements, whole, counters_only)


def _parse_in_members(data: bytes, counters_only: bool) -> DecodedSnapshot:
    """parse_snapshot's rules, the top level split into its members first, then each decoded."""
    try:
        members = _MEMBERS.decode(data)
    except msgspec.ValidationError:
        raise PayloadRejected(status.HTTP_400_BAD_REQUEST, "body must be a JSON object", "bad_json") from None
    except msgspec.DecodeError:
        raise PayloadRejected(status.HTTP_400_BAD_REQUEST, "body is not JSON", "bad_json") from None
    version = _check_version(members.get("schema_version"))
    _check_nul(data, counters_only)
    text = members.pop("statements", _EMPTY_LIST)
    statements: Sequence[StatementCounterRow]
    whole: Sequence[StatementRow] | bytes
    try:
        if counters_only:
            statements, whole = decode_statement_counters(text), data
        else:
            statements = whole = described = decode_statements(text)
            _check_texts(data, version, described)
    except StatementsRejected as error:
        raise _invalid(str(error)) from None
    return _decoded(members, statements, whole, counters_only)


def _check_version(text: msgspec.Raw | None) -> int:
    version = msgspec.json.decode(text) if text is not None else None
    if type(version) is not int or version not in SUPPORTED_SCHEMA_VERSIONS:
        raise PayloadRejected(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"unsupported snapshot schema_version {version!r}; this control plane accepts "
            f"{', '.join(map(str, SUPPORTED_SCHEMA_VERSIONS))}: upgrade the agent",
            "unsupported_schema_version",
        )
    return version


def _check_texts(data: bytes, version: int, statements: Sequence[StatementRow]) -> None:
    """A snapshot of a version before TEXT_OPTIONAL_FROM carries every statement's text. One that
    does not (no agent sends it) is refused in the model's words: validated whole by the model."""
    if version >= TEXT_OPTIONAL_FROM or all(statement.query is not None for statement in statements):
        return
    try:
        Snapshot.model_validate_json(data, context=NUL_FREE)
    except ValidationError as error:
        raise _invalid(_describe(error)) from None
    missing = next(index for index, statement in enumerate(statements) if statement.query is None)
    raise _invalid(missing_text_message(version, missing))  # what the model says, had it read it alike


def _check_nul(data: bytes, counters_only: bool) -> None:
    """The NUL check over the whole text at once, not field by field (see shared.wire.base): the
    statements' decoder has no such check of its own. A text that holds one (rare) goes through
    the model field by field, whose message names the field. A worker's decode (`counters_only`)
    skips it (see json_holds_nul): the body passed it when it was accepted, and nothing changes it in the inbox."""
    if counters_only or not json_holds_nul(data):
        return
    try:
        Snapshot.model_validate_json(data)
    except ValidationError as error:
        raise _invalid(_describe(error)) from None
    raise _invalid("text must not contain NUL (U+0000) characters")


def _decoded(
    members: dict[str, msgspec.Raw],
    statements: Sequence[StatementCounterRow],
    whole: Sequence[StatementRow] | bytes,
    counters_only: bool,
) -> DecodedSnapshot:
    """The snapshot of these members (but its statements, decoded already), validated by the model."""
    # A worker leaves the tables' and indexes' statistics as text: of a batch only the latest
    # snapshot's are stored, and validating them is ~2.6 ms of the ~2.7 ms the rest takes.
    schema_text = (
        (members.pop("tables", _EMPTY_LIST), members.pop("indexes", _EMPTY_LIST)) if counters_only else None
    )
    rest = (
        b"{"
        + b",".join(msgspec.json.encode(key) + b":" + bytes(value) for key, value in members.items())
        + b"}"
    )
    try:
        snapshot = Snapshot.model_validate_json(rest, context=NUL_FREE)
    except ValidationError as error:
        raise _invalid(_describe(error)) from None
    if len({statement.fingerprint for statement in statements}) != len(statements):
        raise _invalid("statements repeat a fingerprint; merge them first")
    return DecodedSnapshot(snapshot, statements, whole, schema_text)


# One decode at a time per process. Where decodes run in threads (a worker's, or a request's with
# OPTISCHEMA_SNAPSHOT_CHECK_PROCESSES=0, see snapshot_checks) they share the GIL with the event
# loop: eight at once (eight agents posting) each took ~2x as long as one alone (68 vs 35 ms,
# measured), all finishing together at the end, and the loop waited for the GIL between them. In
# turn, each takes its ~20 ms whole and answers; a thread waiting here holds no GIL.
_ONE_AT_A_TIME = threading.Lock()


def decode_snapshot(
    body: bytes, encoding: str | None, limit: int, counters_only: bool = False
) -> DecodedSnapshot:
    with _ONE_AT_A_TIME:
        return parse_snapshot(decompress(body, encoding, limit), counters_only)
