"""Access tokens: what AccessTokenKeyring.verify accepts, and every way a token earns a 401.

Forged tokens are built by hand (base64url JSON + HMAC) rather than through pyjwt, so the tests
cover tokens pyjwt itself would refuse to produce: alg=none, public keys as HMAC secrets, odd types.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from control_plane.auth.access_tokens import (
    REQUIRED_CLAIMS,
    AccessClaims,
    AccessTokenKeyring,
    InvalidAccessToken,
)
from control_plane.crypto.keys import derive_key, jwt_signing_purpose

SECRET = "unit-test-master-secret-0123456789abcdef"
ISSUER, AUDIENCE, TTL_S, LEEWAY_S = "optischema", "optischema-api", 900, 5
NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
USER = uuid.UUID("0b5f8f5e-1111-4c4c-9d9d-000000000001")
TENANT = uuid.UUID("7e57e57e-2222-4a4a-8b8b-000000000002")
KEYRING = AccessTokenKeyring(SECRET)
K1_KEY = derive_key(SECRET, jwt_signing_purpose("k1"))


def issue(keyring: AccessTokenKeyring = KEYRING, now: datetime = NOW) -> str:
    return keyring.issue(
        subject=USER, tenant_id=TENANT, role="admin", ttl_s=TTL_S, issuer=ISSUER, audience=AUDIENCE, now=now
    )


def verify(
    token: str, keyring: AccessTokenKeyring = KEYRING, *, now: datetime = NOW, **kw: Any
) -> AccessClaims:
    options: dict[str, Any] = {"issuer": ISSUER, "audience": AUDIENCE, "leeway_s": LEEWAY_S} | kw
    return keyring.verify(token, now=now, **options)


def rejected(token: str, keyring: AccessTokenKeyring = KEYRING, *, now: datetime = NOW, **kw: Any) -> bool:
    with pytest.raises(InvalidAccessToken):
        verify(token, keyring, now=now, **kw)
    return True


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(obj: Any) -> str:
    return b64(json.dumps(obj).encode())


def claims(**changes: Any) -> dict[str, Any]:
    iat = int(NOW.timestamp())
    payload: dict[str, Any] = {
        "iss": ISSUER, "aud": AUDIENCE, "sub": str(USER), "iat": iat, "nbf": iat, "exp": iat + TTL_S,
        "jti": "jti-1", "type": "access", "tid": str(TENANT), "role": "admin",
    }  # fmt: skip
    return payload | changes


def hs256(payload: dict[str, Any], key: bytes = K1_KEY, header: dict[str, Any] | None = None) -> str:
    signing_input = f"{segment(header or {'alg': 'HS256', 'typ': 'JWT', 'kid': 'k1'})}.{segment(payload)}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def test_round_trip_returns_the_issued_claims() -> None:
    result = verify(issue())
    assert (result.subject, result.tenant_id, result.role) == (USER, TENANT, "admin")
    assert (result.issued_at, result.expires_at) == (NOW, NOW + timedelta(seconds=TTL_S))
    assert result.token_id and result.token_id != verify(issue()).token_id


def test_issued_token_names_its_kid_and_carries_every_required_claim() -> None:
    token = issue()
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT", "kid": "k1"}
    payload = jwt.decode(token, options={"verify_signature": False})
    assert set(REQUIRED_CLAIMS) <= payload.keys() and payload["type"] == "access"


def test_a_hand_made_token_with_our_key_verifies() -> None:
    # Sanity check for the forging helpers below: their rejections come from the change, not the helper.
    assert verify(hs256(claims())).subject == USER


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
@pytest.mark.parametrize("with_signature", [False, True])
def test_unsigned_alg_none_token_is_rejected(alg: str, with_signature: bool) -> None:
    signed = hs256(claims(), header={"alg": alg, "typ": "JWT", "kid": "k1"})
    assert rejected(signed if with_signature else signed.rsplit(".", 1)[0] + ".")


def test_token_signed_with_another_key_is_rejected() -> None:
    assert rejected(issue(AccessTokenKeyring("a-different-master-secret-0123456789abcdef")))
    assert rejected(hs256(claims(), key=b"k" * 32))


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_rs256_token_is_rejected(rsa_key: rsa.RSAPrivateKey) -> None:
    assert rejected(jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "k1"}))


def test_hs256_token_keyed_with_a_public_key_pem_is_rejected(rsa_key: rsa.RSAPrivateKey) -> None:
    # The classic confusion: a verifier that picks the algorithm from the header would use its
    # public key bytes as an HMAC secret. We never hold public keys and never trust the header.
    pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert rejected(hs256(claims(), key=pem))
    assert rejected(hs256(claims(), key=pem, header={"alg": "RS256", "typ": "JWT", "kid": "k1"}))


@pytest.mark.parametrize(
    ("seconds_after_expiry", "leeway_s", "accepted"),
    [(-1, 0, True), (0, 0, False), (0, 5, True), (4, 5, True), (5, 5, False), (3600, 5, False)],
)
def test_expiry_honours_the_leeway(seconds_after_expiry: int, leeway_s: int, accepted: bool) -> None:
    at = NOW + timedelta(seconds=TTL_S + seconds_after_expiry)
    if accepted:
        assert verify(issue(), now=at, leeway_s=leeway_s).subject == USER
    else:
        assert rejected(issue(), now=at, leeway_s=leeway_s)


@pytest.mark.parametrize("claim", ["nbf", "iat"])
@pytest.mark.parametrize(("seconds_ahead", "accepted"), [(5, True), (6, False), (86400, False)])
def test_nbf_or_iat_in_the_future_is_rejected_beyond_the_leeway(
    claim: str, seconds_ahead: int, accepted: bool
) -> None:
    token = hs256(claims(**{claim: int(NOW.timestamp()) + seconds_ahead}))
    if accepted:
        assert verify(token).subject == USER
    else:
        assert rejected(token)


def test_token_from_the_future_or_for_another_verifier_is_rejected() -> None:
    assert rejected(issue(), now=NOW - timedelta(seconds=LEEWAY_S + 1))
    assert rejected(issue(), issuer="optischema-staging")
    assert rejected(issue(), audience="optischema-agent")


# A list is refused even when it contains ours: we only ever issue a single audience.
@pytest.mark.parametrize(
    "audience", ["optischema-agent", "optischema", "", "OPTISCHEMA-API", [AUDIENCE, "x"]]
)
def test_wrong_audience_is_rejected(audience: Any) -> None:
    assert rejected(hs256(claims(aud=audience)))


@pytest.mark.parametrize("issuer", ["evil", "opti", "optischema-staging", "", ["optischema"]])
def test_wrong_issuer_is_rejected(issuer: Any) -> None:
    assert rejected(hs256(claims(iss=issuer)))


@pytest.mark.parametrize("claim", REQUIRED_CLAIMS)
@pytest.mark.parametrize("how", ["missing", "null"])
def test_each_required_claim_missing_is_rejected(claim: str, how: str) -> None:
    payload = claims()
    if how == "missing":
        del payload[claim]
    else:
        payload[claim] = None
    assert rejected(hs256(payload))


@pytest.mark.parametrize("token_type", ["refresh", "agent", "Access", "", 1, ["access"]])
def test_wrong_type_is_rejected(token_type: Any) -> None:
    assert rejected(hs256(claims(type=token_type)))


@pytest.mark.parametrize(
    ("claim", "value"),
    [("sub", "not-a-uuid"), ("sub", str(USER).upper()), ("sub", "{" + str(USER) + "}"), ("sub", USER.hex),
     ("sub", 42), ("tid", "tenant-1"), ("tid", f"urn:uuid:{TENANT}"), ("tid", [str(TENANT)]),
     ("role", ""), ("role", 7), ("jti", ""), ("jti", 1),
     ("exp", str(int(NOW.timestamp()) + TTL_S)), ("exp", float(int(NOW.timestamp()) + TTL_S)), ("exp", True),
     ("exp", 10**30), ("exp", int(NOW.timestamp())), ("iat", "0"), ("iat", True), ("nbf", False), ("nbf", 1.5)],
)  # fmt: skip
def test_claim_of_the_wrong_shape_is_rejected(claim: str, value: Any) -> None:
    assert rejected(hs256(claims(**{claim: value})))


def test_unknown_kid_is_rejected_even_with_the_key_that_kid_would_derive() -> None:
    # Keys exist only for configured kids: a token cannot talk the verifier into deriving a new one.
    header = {"alg": "HS256", "typ": "JWT", "kid": "k9"}
    assert rejected(hs256(claims(), key=derive_key(SECRET, jwt_signing_purpose("k9")), header=header))


@pytest.mark.parametrize(
    "header", [{"alg": "HS256", "typ": "JWT"}, {"alg": "HS256", "kid": 1}, {"alg": "HS256", "kid": ""}]
)
def test_missing_or_malformed_kid_is_rejected(header: dict[str, Any]) -> None:
    assert rejected(hs256(claims(), header=header))


@pytest.mark.parametrize(
    "extra", [{"jku": "https://evil.example/jwks"}, {"crit": ["b64"], "b64": True}, {"x5u": "x"}]
)
def test_unexpected_header_parameters_are_rejected(extra: dict[str, Any]) -> None:
    assert rejected(hs256(claims(), header={"alg": "HS256", "typ": "JWT", "kid": "k1"} | extra))


def test_rotated_key_verifies_while_listed_as_previous_and_fails_after_removal() -> None:
    old_token = issue(AccessTokenKeyring(SECRET, "k1"))
    during = AccessTokenKeyring(SECRET, "k2", previous_kids=["k1"])
    assert verify(old_token, during).subject == USER
    new_token = issue(during)
    assert jwt.get_unverified_header(new_token)["kid"] == "k2"
    assert rejected(old_token, AccessTokenKeyring(SECRET, "k2"))
    assert rejected(new_token, AccessTokenKeyring(SECRET, "k1"))


def test_tampered_payload_header_or_signature_is_rejected() -> None:
    header, payload, signature = issue().split(".")
    assert rejected(f"{header}.{segment(claims(role='owner'))}.{signature}")
    assert rejected(f"{segment({'alg': 'HS256', 'typ': 'JWT', 'kid': 'k2'})}.{payload}.{signature}")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert rejected(f"{header}.{payload}.{flipped}")


@pytest.mark.parametrize(
    "token",
    ["", "garbage", "a.b", "a.b.c", "a.b.c.d", "..", "Bearer x.y.z", "eyJ.eyJ.", "\x00.\x00.\x00", "é.é.é",
     "x" * 10_000, f"{segment([1])}.{segment({})}.AAAA", f"{segment('x')}.{segment([])}.AAAA",
     f"{b64(b'{not json')}.{segment(claims())}.AAAA", f"{segment({'alg': 'HS256', 'kid': 'k1'})}.!!!!.AAAA"],
)  # fmt: skip
def test_garbage_is_rejected(token: str) -> None:
    assert rejected(token)


@pytest.mark.parametrize("suffix", ["=", " ", "\n", ".x"])
def test_valid_token_with_trailing_bytes_is_rejected(suffix: str) -> None:
    assert rejected(issue() + suffix)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(REQUIRED_CLAIMS), _json | st.integers(-(10**20), 10**20)))
def test_any_validly_signed_payload_either_verifies_or_is_rejected_cleanly(overrides: dict[str, Any]) -> None:
    with contextlib.suppress(InvalidAccessToken):
        assert isinstance(verify(hs256(claims(**overrides))), AccessClaims)


@given(st.text(max_size=300))
def test_arbitrary_strings_only_ever_raise_invalid_access_token(token: str) -> None:
    assert rejected(token)


def test_rejection_message_never_echoes_the_token() -> None:
    token = hs256(claims(role="secret-marker"), key=b"k" * 32)
    with pytest.raises(InvalidAccessToken) as info:
        verify(token)
    assert token not in str(info.value) and "secret-marker" not in str(info.value)


def test_programming_errors_are_not_disguised_as_bad_tokens() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        issue(now=datetime(2025, 3, 1, 12, 0))
    with pytest.raises(ValueError, match="leeway"):
        verify(issue(), leeway_s=-1)
    with pytest.raises(ValueError, match="ttl_s"):
        KEYRING.issue(subject=USER, tenant_id=TENANT, role="admin", ttl_s=0, issuer=ISSUER, audience=AUDIENCE)
    for bad in (dict(current_kid="k:1"), dict(current_kid=""), dict(previous_kids=["k1"])):
        with pytest.raises(ValueError, match="key id"):
            AccessTokenKeyring(SECRET, **bad)


def test_repr_shows_kids_but_no_key_material() -> None:
    text = repr(AccessTokenKeyring(SECRET, "k2", ["k1"]))
    assert "k2" in text and "k1" in text and K1_KEY.hex() not in text and str(K1_KEY) not in text
