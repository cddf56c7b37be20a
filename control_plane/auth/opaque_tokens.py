"""Opaque bearer secrets (refresh tokens, agent tokens, API keys): shown once, stored only as an HMAC.

A token is ``<prefix><43 urlsafe-base64 characters>``; the body is 32 bytes from ``secrets``, so it
is unguessable and needs no slow hash. The database keeps ``token_hmac(...)`` and looks rows up by
it, which means a leaked table is useless without OPTISCHEMA_SECRET_KEY, and a plain indexed
equality lookup is safe: the attacker never learns how close a guess came to a stored HMAC.

The prefixes exist for humans and secret scanners (GitHub, gitleaks): a pasted ``osr_...`` is
recognisable as an OptiSchema refresh token and can be reported and revoked.

Rotating OPTISCHEMA_SECRET_KEY changes the HMAC key and therefore invalidates every stored token;
a rotation that must keep sessions alive has to look up under the previous secret too.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Final

from control_plane.crypto.keys import TOKEN_HMAC_PURPOSE, derive_key

# Public markers, not secrets (hence the noqa): they are meant to be seen and matched.
REFRESH_TOKEN_PREFIX: Final = "osr_"  # noqa: S105
AGENT_TOKEN_PREFIX: Final = "osa_"  # noqa: S105
API_KEY_PREFIX: Final = "osk_"
KNOWN_PREFIXES: Final = (REFRESH_TOKEN_PREFIX, AGENT_TOKEN_PREFIX, API_KEY_PREFIX)

TOKEN_ENTROPY_BYTES: Final = 32  # 256 bits: far beyond online or offline guessing
TOKEN_BODY_LENGTH: Final = 43  # len(secrets.token_urlsafe(32)): unpadded base64 of 32 bytes
TOKEN_HMAC_LENGTH: Final = 32  # bytes of HMAC-SHA256, the width of the stored column

# The underscore is also in the base64url alphabet, so it is the caller-supplied prefix's length,
# not the separator, that splits prefix from body: never parse a prefix out of an unknown token.
_PREFIX_RE: Final = re.compile(r"[a-z]{2,8}_")
_BODY_RE: Final = re.compile(r"[A-Za-z0-9_-]+")


def _check_prefix(prefix: str) -> None:
    if not _PREFIX_RE.fullmatch(prefix):
        raise ValueError(f"invalid token prefix: {prefix!r}")


def generate_token(prefix: str) -> str:
    """A new random token with ``prefix``; give it to the client once and store only its HMAC."""
    _check_prefix(prefix)
    body = secrets.token_urlsafe(TOKEN_ENTROPY_BYTES)
    # token_urlsafe(32) is always 43 characters today; asserting it keeps has_prefix() honest if
    # the entropy constant is ever changed without the length.
    if len(body) != TOKEN_BODY_LENGTH:
        raise RuntimeError("token body length does not match TOKEN_BODY_LENGTH")
    return prefix + body


def token_hmac(secret_key: str, token: str) -> bytes:
    """HMAC-SHA256 of the whole token (prefix included) under the derived "token-hmac" key.

    The prefix is part of the MAC input so the same body can never authenticate as another kind of
    token (an agent token replayed as a refresh token hashes differently).
    """
    key = derive_key(secret_key, TOKEN_HMAC_PURPOSE)
    return hmac.new(key, token.encode("utf-8"), hashlib.sha256).digest()


def token_hmac_matches(secret_key: str, token: str, stored_hmac: bytes) -> bool:
    """Whether ``token`` hashes to ``stored_hmac``, compared in constant time.

    For callers that fetched a row by some other key (an id) and must confirm the secret; lookups by
    the HMAC itself need no extra comparison.
    """
    return hmac.compare_digest(token_hmac(secret_key, token), stored_hmac)


def has_prefix(token: str, prefix: str) -> bool:
    """Cheap shape check before any database lookup: right prefix, exact length, base64url body.

    Nothing compared here is secret (prefix and length are public), so this cannot leak a stored
    token; still, the prefix is compared with ``compare_digest`` and both checks always run, so the
    time taken does not depend on where a malformed token first differs.
    """
    _check_prefix(prefix)
    if len(token) != len(prefix) + TOKEN_BODY_LENGTH:
        # Checked first so an oversized header value never reaches the regex.
        return False
    # Bytes, because compare_digest refuses non-ASCII str; utf-8 keeps a look-alike from matching.
    prefix_ok = hmac.compare_digest(token[: len(prefix)].encode("utf-8"), prefix.encode("ascii"))
    body_ok = _BODY_RE.fullmatch(token[len(prefix) :]) is not None
    return prefix_ok and body_ok
