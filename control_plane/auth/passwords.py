"""Memory-hard password hashing (Argon2id), with rehash when the parameters are raised."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher()  # argon2-cffi's defaults follow RFC 9106's recommendation

# Verifying against this when the email is unknown keeps sign-in timing the same either way.
DUMMY_HASH = _HASHER.hash("optischema-dummy-password")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _HASHER.check_needs_rehash(password_hash)
