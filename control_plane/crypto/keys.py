"""Per-purpose subkeys derived from OPTISCHEMA_SECRET_KEY with HKDF-SHA256 (RFC 5869).

Every consumer names a purpose; the purpose becomes HKDF's ``info`` so subkeys are independent:
knowing the JWT signing key does not help forge a token HMAC, and a Fernet ciphertext cannot be
confused with a signature. Purposes in use:

* ``jwt-signing:<kid>`` -- one HS256 key per key id (see control_plane.auth.access_tokens)
* ``token-hmac``        -- HMAC of opaque refresh/agent/API tokens (control_plane.auth.opaque_tokens)
* ``fernet-master``     -- encryption of secrets at rest (LLM API keys, the job-signing key)

Changing a purpose label, the salt or the info layout changes every derived key, which logs everyone
out and makes encrypted secrets unreadable: treat them as a stored format, not as names.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from typing import Final

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

JWT_SIGNING_PURPOSE_PREFIX: Final = "jwt-signing:"
TOKEN_HMAC_PURPOSE: Final = "token-hmac"  # noqa: S105  # a label, the key comes from the secret
FERNET_MASTER_PURPOSE: Final = "fernet-master"

# A fixed, application-specific salt: RFC 5869 section 3.1 recommends one even when it cannot be
# secret, and it keeps our subkeys distinct from anything else that runs HKDF over the same secret.
_HKDF_SALT: Final = b"optischema/control-plane/hkdf/v1"
_INFO_PREFIX: Final = b"optischema/v1/"

MIN_KEY_LENGTH: Final = 16  # below 128 bits a derived key is too weak for any purpose here
MAX_KEY_LENGTH: Final = 255 * 32  # HKDF-SHA256's output limit

# Printable ASCII without spaces: a purpose is a label in code, never user input, and a strict
# charset stops two spellings (unicode look-alikes, trailing spaces) from meaning two keys by accident.
_PURPOSE_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9:._/-]{0,127}")


def derive_key(secret: str, purpose: str, length: int = 32) -> bytes:
    """Derive ``length`` bytes for ``purpose`` from the master secret; deterministic for equal inputs."""
    if not secret:
        # Settings refuses to start without a secret; refusing here too stops a test or script from
        # silently deriving "real looking" keys from nothing.
        raise ValueError("the master secret must not be empty")
    if not _PURPOSE_RE.fullmatch(purpose):
        raise ValueError(f"invalid key purpose label: {purpose!r}")
    if not MIN_KEY_LENGTH <= length <= MAX_KEY_LENGTH:
        raise ValueError(f"key length must be between {MIN_KEY_LENGTH} and {MAX_KEY_LENGTH} bytes")
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=length,
        salt=_HKDF_SALT,
        info=_INFO_PREFIX + purpose.encode("ascii"),
    )
    return hkdf.derive(secret.encode("utf-8"))


def jwt_signing_purpose(kid: str) -> str:
    """The purpose label of the HS256 key for key id ``kid``."""
    return f"{JWT_SIGNING_PURPOSE_PREFIX}{kid}"


def fernet_key(secret: str) -> bytes:
    """The urlsafe-base64 Fernet key (32 bytes: signing half + encryption half) for ``secret``."""
    return base64.urlsafe_b64encode(derive_key(secret, FERNET_MASTER_PURPOSE, 32))


def fernet_for(secret: str) -> Fernet:
    """A Fernet (AES-128-CBC + HMAC-SHA256, authenticated) for secrets stored at rest."""
    return Fernet(fernet_key(secret))


def multi_fernet_for(current_secret: str, previous_secrets: Sequence[str] = ()) -> MultiFernet:
    """Encrypt with the current secret's key, decrypt with any listed one.

    During a rotation of OPTISCHEMA_SECRET_KEY, list the old secret here, re-encrypt stored values
    with ``MultiFernet.rotate`` and then drop it; the current key is always tried first.
    """
    secrets_in_order = [current_secret, *previous_secrets]
    if len(set(secrets_in_order)) != len(secrets_in_order):
        raise ValueError("the current and previous secrets must all differ")
    return MultiFernet([fernet_for(secret) for secret in secrets_in_order])
