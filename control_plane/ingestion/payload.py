"""Turning a request body into a validated Snapshot, or a 4xx that says exactly what is wrong.

A malformed payload is rejected whole: nothing is stored from a body that fails any check.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import anyio
import pydantic_core
from fastapi import HTTPException, status
from pydantic import ValidationError

from shared.wire.base import NUL_FREE, json_holds_nul
from shared.wire.snapshot import SNAPSHOT_SCHEMA_VERSION, Snapshot

# The versions this control plane accepts: the current one and the previous one, so agents can be
# upgraded after the control plane. Version 1 is version 2 without `findings`.
SUPPORTED_SCHEMA_VERSIONS = (SNAPSHOT_SCHEMA_VERSION - 1, SNAPSHOT_SCHEMA_VERSION)


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
    inflater = zlib.decompressobj(wbits=31)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error:
        raise PayloadRejected(status.HTTP_400_BAD_REQUEST, "body is not valid gzip", "bad_gzip") from None
    if len(data) > limit:
        raise PayloadRejected(
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            f"decompressed body larger than {limit} bytes",
            "too_large",
        )
    if not inflater.eof:
        raise PayloadRejected(status.HTTP_400_BAD_REQUEST, "gzip body is truncated", "bad_gzip")
    return data


def _describe(error: ValidationError) -> str:
    problems = [f"{'.'.join(str(p) for p in item['loc'])}: {item['msg']}" for item in error.errors()[:5]]
    more = f" (and {error.error_count() - 5} more)" if error.error_count() > 5 else ""
    return "; ".join(problems) + more


def parse_snapshot(data: bytes) -> Snapshot:
    try:
        document: Any = pydantic_core.from_json(data)  # twice as fast as json.loads
    except ValueError:
        raise PayloadRejected(status.HTTP_400_BAD_REQUEST, "body is not JSON", "bad_json") from None
    if not isinstance(document, dict):
        raise PayloadRejected(status.HTTP_400_BAD_REQUEST, "body must be a JSON object", "bad_json")
    version = document.get("schema_version")
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        raise PayloadRejected(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"unsupported snapshot schema_version {version!r}; this control plane accepts "
            f"{', '.join(map(str, SUPPORTED_SCHEMA_VERSIONS))}: upgrade the agent",
            "unsupported_schema_version",
        )
    # The NUL check over the whole text at once, not field by field (see shared.wire.base).
    context = None if json_holds_nul(data) else NUL_FREE
    try:
        snapshot = Snapshot.model_validate(document, context=context)
    except ValidationError as error:
        raise PayloadRejected(status.HTTP_422_UNPROCESSABLE_CONTENT, _describe(error), "invalid") from None
    fingerprints = [statement.fingerprint for statement in snapshot.statements]
    if len(set(fingerprints)) != len(fingerprints):
        raise PayloadRejected(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "statements repeat a fingerprint; merge them first",
            "invalid",
        )
    return snapshot


def decode_snapshot(body: bytes, encoding: str | None, limit: int) -> Snapshot:
    return parse_snapshot(decompress(body, encoding, limit))


async def read_snapshot(chunks: AsyncIterator[bytes], encoding: str | None, limit: int) -> Snapshot:
    """The request body as a validated Snapshot. Inflating, parsing and validating 5,000 statements
    takes ~50 ms of CPU; in a worker thread, the event loop keeps serving other requests meanwhile
    (the thread yields the GIL every few milliseconds) instead of stalling for all of it.
    """
    body = await read_capped(chunks, limit)
    return await anyio.to_thread.run_sync(partial(decode_snapshot, body, encoding, limit))
