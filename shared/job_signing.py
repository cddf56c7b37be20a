"""Ed25519 signatures over jobs and over the published key set: pure functions both sides share.

The control plane signs, the agent verifies; neither re-serializes what the other signed. A job's
signature covers `body.encode()` exactly as sent. A key set's signature covers `key_set_message`,
which starts with a label that no JSON object starts with, so a key-set signature can never pass for
a job's signature or the other way round.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from shared.wire.jobs import JobBody, PublishedKey, SignedJob, SigningKeySet

ED25519_KEY_BYTES = 32
KEY_SET_LABEL = b"optischema/job-signing-key-set/v1\n"
_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict: only the URL-safe alphabet, padding optional. Raises ValueError otherwise."""
    stripped = text.rstrip("=")
    if not stripped.isascii() or any(c not in _ALPHABET for c in stripped):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
    except binascii.Error as error:
        raise ValueError(f"not base64url: {error}") from None


def raw_public_key(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id_for(public_key: bytes) -> str:
    """A short, stable name for a public key: anyone holding the key can recompute and check it."""
    return "ed25519-" + hashlib.sha256(public_key).hexdigest()[:16]


def _verify(public_key: bytes, signature: str, message: bytes) -> bool:
    try:
        key = Ed25519PublicKey.from_public_bytes(public_key)
        key.verify(b64url_decode(signature), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def sign_job(private_key: Ed25519PrivateKey, key_id: str, body: JobBody) -> SignedJob:
    text = body.model_dump_json()
    return SignedJob(key_id=key_id, body=text, signature=b64url_encode(private_key.sign(text.encode())))


def verify_signature(public_key_bytes: bytes, signed: SignedJob) -> bool:
    """True when `signed.signature` is this key's signature over exactly `signed.body`."""
    return _verify(public_key_bytes, signed.signature, signed.body.encode())


def load_job(signed: SignedJob) -> JobBody:
    """The body, parsed; call only after `verify_signature`. Raises pydantic.ValidationError."""
    return JobBody.model_validate_json(signed.body)


def peek_job_id(signed: SignedJob) -> UUID | None:
    """The job's id from a body that verified but does not parse as a JobBody (an unknown kind, a
    newer shape), so that the agent can still answer it with an error result instead of ignoring it."""
    try:
        document = json.loads(signed.body)
        return UUID(str(document["id"])) if isinstance(document, dict) else None
    except (ValueError, KeyError, TypeError):
        return None


def key_set_message(keys: Sequence[PublishedKey], issued_at: datetime) -> bytes:
    """The bytes a key set's signature covers: a label and canonical JSON (sorted keys, no spaces)."""
    # A naive time is read as UTC on both sides, so the two never disagree about the bytes.
    utc = issued_at.replace(tzinfo=UTC) if issued_at.tzinfo is None else issued_at.astimezone(UTC)
    document = {
        "issued_at": utc.isoformat(),
        "keys": [key.model_dump(mode="json") for key in keys],
    }
    return KEY_SET_LABEL + json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def sign_key_set(
    private_key: Ed25519PrivateKey, key_id: str, keys: Sequence[PublishedKey], issued_at: datetime
) -> SigningKeySet:
    signature = private_key.sign(key_set_message(keys, issued_at))
    return SigningKeySet(
        keys=list(keys), issued_at=issued_at, signed_by=key_id, signature=b64url_encode(signature)
    )


def verify_key_set(public_key_bytes: bytes, key_set: SigningKeySet) -> bool:
    return _verify(public_key_bytes, key_set.signature, key_set_message(key_set.keys, key_set.issued_at))


__all__ = [
    "ED25519_KEY_BYTES",
    "b64url_decode",
    "b64url_encode",
    "key_id_for",
    "key_set_message",
    "load_job",
    "peek_job_id",
    "raw_public_key",
    "sign_job",
    "sign_key_set",
    "verify_key_set",
    "verify_signature",
]
