"""Opaque tokens: prefixed random secrets, stored only as an HMAC, shape-checked before any lookup."""

from __future__ import annotations

import hashlib
import hmac
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from control_plane.auth.opaque_tokens import (
    AGENT_TOKEN_PREFIX,
    API_KEY_PREFIX,
    KNOWN_PREFIXES,
    REFRESH_TOKEN_PREFIX,
    TOKEN_BODY_LENGTH,
    generate_token,
    has_prefix,
    token_hmac,
    token_hmac_matches,
)
from control_plane.crypto.keys import TOKEN_HMAC_PURPOSE, derive_key

SECRET = "unit-test-master-secret-0123456789abcdef"
OTHER_SECRET = "another-unit-test-master-secret-fedcba98"
BODY = re.compile(r"[A-Za-z0-9_-]{43}")


def test_prefixes_are_distinct_and_recognisable() -> None:
    assert KNOWN_PREFIXES == ("osr_", "osa_", "osk_")


@pytest.mark.parametrize("prefix", KNOWN_PREFIXES)
def test_generated_token_is_prefix_plus_43_urlsafe_characters(prefix: str) -> None:
    token = generate_token(prefix)
    assert token.startswith(prefix)
    assert len(token) == len(prefix) + TOKEN_BODY_LENGTH
    assert BODY.fullmatch(token[len(prefix) :])


def test_generated_tokens_are_unique() -> None:
    tokens = {generate_token(REFRESH_TOKEN_PREFIX) for _ in range(2000)}
    assert len(tokens) == 2000


@pytest.mark.parametrize("prefix", ["", "osr", "OSR_", "o_", "os-_", "toolongprefix_", "osr__"])
def test_malformed_prefix_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        generate_token(prefix)
    with pytest.raises(ValueError, match="prefix"):
        has_prefix("osr_" + "A" * 43, prefix)


def test_hmac_is_hmac_sha256_of_the_whole_token_under_the_token_hmac_subkey() -> None:
    token = generate_token(REFRESH_TOKEN_PREFIX)
    expected = hmac.new(derive_key(SECRET, TOKEN_HMAC_PURPOSE), token.encode(), hashlib.sha256).digest()
    assert token_hmac(SECRET, token) == expected
    assert len(expected) == 32


def test_hmac_is_a_stored_format() -> None:
    # What the database holds: if this changes, every stored refresh and agent token stops working.
    digest = token_hmac("golden-secret-for-key-derivation-tests", "osr_" + "A" * 43)
    assert digest.hex() == "27ea7a6f56c6339d9b8e1d4662ea8be73b3869c0785f46327aaf87aa4c0bee21"


def test_hmac_is_stable_for_the_same_secret() -> None:
    token = generate_token(AGENT_TOKEN_PREFIX)
    assert token_hmac(SECRET, token) == token_hmac(SECRET, token)


def test_hmac_differs_per_secret_key() -> None:
    token = generate_token(AGENT_TOKEN_PREFIX)
    assert token_hmac(SECRET, token) != token_hmac(OTHER_SECRET, token)


def test_hmac_is_not_a_plain_hash_of_the_token() -> None:
    # A leaked table must not be checkable against guessed tokens without the server secret.
    token = generate_token(API_KEY_PREFIX)
    assert token_hmac(SECRET, token) != hashlib.sha256(token.encode()).digest()


def test_same_body_under_another_prefix_hashes_differently() -> None:
    body = generate_token(REFRESH_TOKEN_PREFIX)[len(REFRESH_TOKEN_PREFIX) :]
    assert token_hmac(SECRET, REFRESH_TOKEN_PREFIX + body) != token_hmac(SECRET, AGENT_TOKEN_PREFIX + body)


def test_hmac_matches_only_for_the_same_token_and_secret() -> None:
    token = generate_token(REFRESH_TOKEN_PREFIX)
    stored = token_hmac(SECRET, token)
    assert token_hmac_matches(SECRET, token, stored)
    assert not token_hmac_matches(SECRET, generate_token(REFRESH_TOKEN_PREFIX), stored)
    assert not token_hmac_matches(OTHER_SECRET, token, stored)


@pytest.mark.parametrize("prefix", KNOWN_PREFIXES)
def test_shape_check_accepts_a_generated_token(prefix: str) -> None:
    assert has_prefix(generate_token(prefix), prefix)


def test_shape_check_rejects_another_kind_of_token() -> None:
    assert not has_prefix(generate_token(AGENT_TOKEN_PREFIX), REFRESH_TOKEN_PREFIX)
    assert not has_prefix(generate_token(REFRESH_TOKEN_PREFIX), API_KEY_PREFIX)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "osr_",
        "osr_" + "A" * 42,  # one short
        "osr_" + "A" * 44,  # one long
        "osr_" + "A" * 4000,
        "OSR_" + "A" * 43,  # prefixes are case-sensitive
        "osr-" + "A" * 43,
        "osr_" + "A" * 42 + "=",  # padding is not part of the alphabet we issue
        "osr_" + "A" * 42 + "!",
        "osr_" + "A" * 42 + " ",
        "osr_" + "A" * 42 + "\n",
        "osr_" + "A" * 42 + "é",
        "\u043esr_" + "A" * 43,  # Cyrillic o: same length in characters, different bytes
        "Bearer osr_" + "A" * 43,
    ],
)
def test_shape_check_rejects_wrong_prefix_length_or_charset(token: str) -> None:
    assert not has_prefix(token, REFRESH_TOKEN_PREFIX)


@given(st.text(max_size=80))
def test_shape_check_never_raises_and_agrees_with_the_format(token: str) -> None:
    expected = token.startswith("osr_") and BODY.fullmatch(token[4:]) is not None
    assert has_prefix(token, REFRESH_TOKEN_PREFIX) is expected
