"""Key material: generating, parsing the configured key, and encrypting private keys at rest.

Private keys are stored as Fernet tokens under the subkey HKDF derives from OPTISCHEMA_SECRET_KEY
for secrets at rest (`fernet-master`, see control_plane.crypto.keys): a dump of the metadata
database alone does not reveal them.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from cryptography.fernet import InvalidToken
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from control_plane.crypto.keys import fernet_for
from shared.job_signing import ED25519_KEY_BYTES, key_id_for, raw_public_key


class SigningKeyUnreadable(Exception):
    """A stored private key does not decrypt: OPTISCHEMA_SECRET_KEY is not the one it was stored under."""


@dataclass(frozen=True)
class KeyMaterial:
    key_id: str
    private_key: Ed25519PrivateKey
    public_key: bytes  # raw 32 bytes

    @classmethod
    def of(cls, private_key: Ed25519PrivateKey) -> KeyMaterial:
        public = raw_public_key(private_key)
        return cls(key_id_for(public), private_key, public)

    @classmethod
    def generate(cls) -> KeyMaterial:
        return cls.of(Ed25519PrivateKey.generate())


def parse_configured_key(text: str) -> KeyMaterial:
    """OPTISCHEMA_JOB_SIGNING_KEY: the raw 32-byte private key in base64 (standard or URL-safe)."""
    cleaned = text.strip()
    try:
        raw = base64.b64decode(cleaned.replace("-", "+").replace("_", "/") + "=" * (-len(cleaned) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("OPTISCHEMA_JOB_SIGNING_KEY is not base64") from None
    if len(raw) != ED25519_KEY_BYTES:
        raise ValueError(
            f"OPTISCHEMA_JOB_SIGNING_KEY must be a raw {ED25519_KEY_BYTES}-byte Ed25519 private key in base64, "
            f"not {len(raw)} bytes"
        )
    return KeyMaterial.of(Ed25519PrivateKey.from_private_bytes(raw))


def encrypt_private_key(secret: str, key: KeyMaterial) -> bytes:
    raw = key.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return fernet_for(secret).encrypt(raw)


def decrypt_private_key(secret: str, key_id: str, token: bytes) -> KeyMaterial:
    try:
        raw = fernet_for(secret).decrypt(token)
    except InvalidToken:
        raise SigningKeyUnreadable(
            f"the job-signing key {key_id} does not decrypt with this OPTISCHEMA_SECRET_KEY"
        ) from None
    material = KeyMaterial.of(Ed25519PrivateKey.from_private_bytes(raw))
    if material.key_id != key_id:  # a row whose halves do not belong together is not to be used
        raise SigningKeyUnreadable(f"the stored private key of {key_id} does not match its public key")
    return material
