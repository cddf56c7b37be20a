"""derive_key and the Fernet helpers: independent subkeys per purpose, encryption bound to the secret."""

from __future__ import annotations

import base64

import pytest
from cryptography.fernet import Fernet, InvalidToken

from control_plane.crypto.keys import (
    FERNET_MASTER_PURPOSE,
    TOKEN_HMAC_PURPOSE,
    derive_key,
    fernet_for,
    fernet_key,
    jwt_signing_purpose,
    multi_fernet_for,
)

SECRET = "unit-test-master-secret-0123456789abcdef"
OTHER_SECRET = "another-unit-test-master-secret-fedcba98"
PURPOSES = (jwt_signing_purpose("k1"), jwt_signing_purpose("k2"), TOKEN_HMAC_PURPOSE, FERNET_MASTER_PURPOSE)


def test_different_purposes_give_different_keys() -> None:
    keys = {derive_key(SECRET, purpose) for purpose in PURPOSES}
    assert len(keys) == len(PURPOSES)


def test_same_secret_and_purpose_give_the_same_key() -> None:
    assert derive_key(SECRET, TOKEN_HMAC_PURPOSE) == derive_key(SECRET, TOKEN_HMAC_PURPOSE)


def test_different_secrets_give_different_keys() -> None:
    assert derive_key(SECRET, TOKEN_HMAC_PURPOSE) != derive_key(OTHER_SECRET, TOKEN_HMAC_PURPOSE)


def test_derived_key_is_not_the_secret_itself() -> None:
    key = derive_key(SECRET, TOKEN_HMAC_PURPOSE)
    assert SECRET.encode() not in key
    assert key != SECRET.encode()[:32]


@pytest.mark.parametrize("length", [16, 32, 64])
def test_length_is_honoured(length: int) -> None:
    assert len(derive_key(SECRET, TOKEN_HMAC_PURPOSE, length)) == length


def test_derivation_is_a_stored_format() -> None:
    # Changing the salt, the info layout or a label changes this value, and with it every stored
    # token HMAC and every encrypted secret. If this fails, that change needs a migration.
    key = derive_key("golden-secret-for-key-derivation-tests", TOKEN_HMAC_PURPOSE)
    assert key.hex() == "57c14f0809654307b6e946f223a3bd0009f0cb5e16424c96d75f825aecd36b36"


def test_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        derive_key("", TOKEN_HMAC_PURPOSE)


@pytest.mark.parametrize("purpose", ["", " token-hmac", "token-hmac ", "tökén-hmac", "a b", "x" * 200])
def test_malformed_purpose_is_refused(purpose: str) -> None:
    with pytest.raises(ValueError, match="purpose"):
        derive_key(SECRET, purpose)


@pytest.mark.parametrize("length", [0, 8, 15, 255 * 32 + 1])
def test_unsafe_or_impossible_length_is_refused(length: int) -> None:
    with pytest.raises(ValueError, match="length"):
        derive_key(SECRET, TOKEN_HMAC_PURPOSE, length)


def test_fernet_key_is_the_urlsafe_base64_of_the_fernet_master_subkey() -> None:
    assert base64.urlsafe_b64decode(fernet_key(SECRET)) == derive_key(SECRET, FERNET_MASTER_PURPOSE)


def test_fernet_round_trip() -> None:
    plaintext = b"sk-live-llm-api-key"
    ciphertext = fernet_for(SECRET).encrypt(plaintext)
    assert plaintext not in ciphertext
    # A new instance from the same secret decrypts: nothing but the secret is needed after a restart.
    assert fernet_for(SECRET).decrypt(ciphertext) == plaintext


def test_fernet_from_another_secret_cannot_decrypt() -> None:
    ciphertext = fernet_for(SECRET).encrypt(b"sk-live-llm-api-key")
    with pytest.raises(InvalidToken):
        fernet_for(OTHER_SECRET).decrypt(ciphertext)


def test_fernet_keyed_with_another_purpose_cannot_decrypt() -> None:
    ciphertext = fernet_for(SECRET).encrypt(b"sk-live-llm-api-key")
    wrong_purpose = Fernet(base64.urlsafe_b64encode(derive_key(SECRET, TOKEN_HMAC_PURPOSE)))
    with pytest.raises(InvalidToken):
        wrong_purpose.decrypt(ciphertext)


def test_tampered_ciphertext_is_rejected() -> None:
    raw = bytearray(base64.urlsafe_b64decode(fernet_for(SECRET).encrypt(b"sk-live-llm-api-key")))
    raw[-40] ^= 0x01  # a bit inside the AES ciphertext, which the HMAC covers
    with pytest.raises(InvalidToken):
        fernet_for(SECRET).decrypt(base64.urlsafe_b64encode(bytes(raw)))


def test_multi_fernet_decrypts_old_values_and_rotates_them_to_the_current_secret() -> None:
    old_ciphertext = fernet_for(OTHER_SECRET).encrypt(b"job-signing-key")
    during_rotation = multi_fernet_for(SECRET, [OTHER_SECRET])
    assert during_rotation.decrypt(old_ciphertext) == b"job-signing-key"

    rotated = during_rotation.rotate(old_ciphertext)
    assert fernet_for(SECRET).decrypt(rotated) == b"job-signing-key"
    # New values are written under the current secret only.
    assert fernet_for(SECRET).decrypt(during_rotation.encrypt(b"new")) == b"new"


def test_multi_fernet_without_the_old_secret_cannot_decrypt_old_values() -> None:
    old_ciphertext = fernet_for(OTHER_SECRET).encrypt(b"job-signing-key")
    with pytest.raises(InvalidToken):
        multi_fernet_for(SECRET).decrypt(old_ciphertext)


def test_multi_fernet_refuses_repeated_secrets() -> None:
    with pytest.raises(ValueError, match="differ"):
        multi_fernet_for(SECRET, [SECRET])
