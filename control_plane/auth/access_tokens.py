"""Short-lived JWT access tokens: HS256 under per-kid keys derived from OPTISCHEMA_SECRET_KEY.

Verification trusts nothing in the token before the signature checks out: the algorithm comes from
a fixed allow-list (never the header, which is what makes ``alg=none`` and HS/RS confusion
harmless), the key is chosen by a kid we derived ourselves, and every claim we issue must be present
with the exact type we issue it with. Any failure is one exception type so the HTTP layer answers a
bare 401 and an attacker learns nothing about which check tripped.

Time checks are done here rather than by pyjwt so ``now`` can be injected: tests never sleep, and
the leeway semantics are written down in one place.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import jwt

from control_plane.crypto.keys import derive_key, jwt_signing_purpose

# A tuple so nothing can widen the list at runtime; only symmetric algorithms, so no verifying key
# is ever a public key that an attacker could also use as an HMAC secret.
ALLOWED_ALGORITHMS: Final[tuple[str, ...]] = ("HS256",)
SIGNING_ALGORITHM: Final = "HS256"
ACCESS_TOKEN_TYPE: Final = "access"  # noqa: S105  # a claim value, not a secret
TYPE_CLAIM: Final = "type"
TENANT_CLAIM: Final = "tid"
ROLE_CLAIM: Final = "role"
GENERATION_CLAIM: Final = "gen"
REQUIRED_CLAIMS: Final = (
    "exp",
    "iat",
    "nbf",
    "iss",
    "aud",
    "sub",
    "jti",
    TYPE_CLAIM,
    TENANT_CLAIM,
    ROLE_CLAIM,
)

# Our tokens are a few hundred bytes; the cap bounds the work an anonymous caller can cause.
MAX_TOKEN_LENGTH: Final = 4096
# Compact serialization, unpadded base64url (RFC 7515 section 7.1): anything else is not ours.
_COMPACT_JWS_RE: Final = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
# Header parameters we emit. Rejecting the rest keeps jku/jwk/x5u/crit/b64 tricks off the table
# even if a future pyjwt starts honouring one of them.
_ALLOWED_HEADER_PARAMS: Final = frozenset({"alg", "typ", "kid"})
# No ':' so "jwt-signing:<kid>" stays unambiguous as an HKDF label.
_KID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")


@dataclass(frozen=True, slots=True)
class AccessClaims:
    subject: uuid.UUID
    tenant_id: uuid.UUID
    role: str
    issued_at: datetime
    expires_at: datetime
    token_id: str
    generation: int = 0  # the user's token generation at issue; a bump revokes every older token


class InvalidAccessToken(Exception):
    """The token is unusable for any reason. The message is for server logs, never for the client."""


class AccessTokenKeyring:
    """Signs with the current key id; verifies with the current and any previous key ids.

    To rotate: deploy with a new ``current_kid`` and the old one in ``previous_kids``, wait one
    access-token lifetime (plus leeway), then drop the old kid.
    """

    def __init__(self, secret_key: str, current_kid: str = "k1", previous_kids: Sequence[str] = ()) -> None:
        kids = [current_kid, *previous_kids]
        for kid in kids:
            if not _KID_RE.fullmatch(kid):
                raise ValueError(f"invalid key id: {kid!r}")
        if len(set(kids)) != len(kids):
            raise ValueError("key ids must be unique")
        self._current_kid = current_kid
        self._keys: dict[str, bytes] = {kid: derive_key(secret_key, jwt_signing_purpose(kid)) for kid in kids}

    @property
    def current_kid(self) -> str:
        return self._current_kid

    @property
    def kids(self) -> tuple[str, ...]:
        """Every kid that verifies, current first."""
        return tuple(self._keys)

    def __repr__(self) -> str:  # never show key bytes, even in a debugger or a traceback
        return f"AccessTokenKeyring(current_kid={self._current_kid!r}, kids={self.kids!r})"

    def issue(
        self,
        *,
        subject: uuid.UUID,
        tenant_id: uuid.UUID,
        role: str,
        ttl_s: int,
        issuer: str,
        audience: str,
        generation: int = 0,
        now: datetime | None = None,
    ) -> str:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        if not role:
            raise ValueError("role must not be empty")
        issued_at = int(_aware(now).timestamp())
        payload: dict[str, Any] = {
            "iss": issuer,
            "aud": audience,
            "sub": str(subject),
            "iat": issued_at,
            "nbf": issued_at,
            "exp": issued_at + ttl_s,
            "jti": secrets.token_urlsafe(16),  # lets a later deny-list revoke a single token
            TYPE_CLAIM: ACCESS_TOKEN_TYPE,
            TENANT_CLAIM: str(tenant_id),
            ROLE_CLAIM: role,
            GENERATION_CLAIM: generation,
        }
        key = self._keys[self._current_kid]
        return jwt.encode(payload, key, algorithm=SIGNING_ALGORITHM, headers={"kid": self._current_kid})

    def verify(
        self,
        token: str,
        *,
        issuer: str,
        audience: str,
        leeway_s: int,
        now: datetime | None = None,
    ) -> AccessClaims:
        if leeway_s < 0:
            raise ValueError("leeway_s must not be negative")
        now_ts = _aware(now).timestamp()
        try:
            payload = self._verified_payload(token, issuer=issuer, audience=audience)
            return _claims(payload, issuer=issuer, audience=audience, leeway_s=leeway_s, now_ts=now_ts)
        except InvalidAccessToken:
            raise
        except (jwt.PyJWTError, ValueError, TypeError, KeyError, OverflowError, OSError) as exc:
            # pyjwt's exceptions plus what a hostile but validly signed payload can provoke while
            # being converted; all of it is "not a token we accept".
            raise InvalidAccessToken(f"token rejected: {type(exc).__name__}") from exc

    def _verified_payload(self, token: str, *, issuer: str, audience: str) -> dict[str, Any]:
        if len(token) > MAX_TOKEN_LENGTH or not _COMPACT_JWS_RE.fullmatch(token):
            raise InvalidAccessToken("not a compact JWS")
        # The header is read unverified only to pick a key; nothing in it is trusted beyond that,
        # and the algorithm passed to decode() below is our allow-list, not header["alg"].
        header = jwt.get_unverified_header(token)
        if not header.keys() <= _ALLOWED_HEADER_PARAMS:
            raise InvalidAccessToken("unexpected header parameter")
        if header.get("alg") not in ALLOWED_ALGORITHMS:
            raise InvalidAccessToken("algorithm not allowed")
        kid = header.get("kid")
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise InvalidAccessToken("unknown key id")
        return jwt.decode(
            token,
            key,
            algorithms=list(ALLOWED_ALGORITHMS),
            audience=audience,
            issuer=issuer,
            options={
                "require": list(REQUIRED_CLAIMS),
                "strict_aud": True,
                "verify_exp": False,  # time claims are checked in _claims() against the injected now
                "verify_nbf": False,
                "verify_iat": False,
            },
        )


def _claims(
    payload: Mapping[str, Any], *, issuer: str, audience: str, leeway_s: int, now_ts: float
) -> AccessClaims:
    # iss/aud are re-checked exactly so correctness does not hinge on pyjwt version details
    # (strict_aud only exists since 2.9; 2.10.0 matched issuers by substring).
    if payload["iss"] != issuer or payload["aud"] != audience:
        raise InvalidAccessToken("wrong issuer or audience")
    if payload[TYPE_CLAIM] != ACCESS_TOKEN_TYPE:
        raise InvalidAccessToken("not an access token")
    issued_at, not_before, expires_at = (_numeric_date(payload, name) for name in ("iat", "nbf", "exp"))
    if now_ts >= expires_at + leeway_s:
        raise InvalidAccessToken("expired")
    if not_before > now_ts + leeway_s or issued_at > now_ts + leeway_s:
        raise InvalidAccessToken("not yet valid")
    if expires_at <= issued_at:
        raise InvalidAccessToken("expires before it was issued")
    role, token_id, generation = payload[ROLE_CLAIM], payload["jti"], payload.get(GENERATION_CLAIM, 0)
    if not isinstance(role, str) or not role or not isinstance(token_id, str) or not token_id:
        raise InvalidAccessToken("bad role or jti")
    if type(generation) is not int or generation < 0:
        raise InvalidAccessToken("bad generation")
    return AccessClaims(
        subject=_canonical_uuid(payload["sub"]),
        tenant_id=_canonical_uuid(payload[TENANT_CLAIM]),
        role=role,
        issued_at=datetime.fromtimestamp(issued_at, UTC),
        expires_at=datetime.fromtimestamp(expires_at, UTC),
        token_id=token_id,
        generation=generation,
    )


def _numeric_date(payload: Mapping[str, Any], name: str) -> int:
    value = payload[name]
    # We only ever issue integers; bool is an int subclass and "123" would pass pyjwt's int().
    if type(value) is not int:
        raise InvalidAccessToken(f"{name} is not an integer")
    return value


def _canonical_uuid(value: object) -> uuid.UUID:
    # uuid.UUID() also accepts braces, urn: prefixes, upper case and missing hyphens; requiring the
    # form we issue means one identity has exactly one spelling in logs, caches and deny-lists.
    if not isinstance(value, str):
        raise InvalidAccessToken("identifier is not a string")
    parsed = uuid.UUID(value)
    if str(parsed) != value:
        raise InvalidAccessToken("identifier is not a canonical UUID")
    return parsed


def _aware(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None or now.utcoffset() is None:
        # A naive datetime's timestamp() is local time: a silent offset of hours on verification.
        raise ValueError("now must be timezone-aware")
    return now
