"""Which keys the agent trusts: pinned once (configured or first use), then followed only through
key sets signed by a key it already holds."""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path

import pytest

from agent.jobs.trust import KEYS_FILE, PinnedKeys, UntrustedKeySet, parse_public_key
from shared.job_signing import b64url_encode
from tests.unit.jobs.keys import NOW, Key, key_set

A, B, C = Key.new(), Key.new(), Key.new()


def test_first_use_pins_the_first_key_set_and_persists_it(tmp_path: Path) -> None:
    pinned = PinnedKeys.load(tmp_path)
    assert pinned.trusts_first_use

    assert pinned.update_from(key_set(A, [(A, "active")]))

    reloaded = PinnedKeys.load(tmp_path)
    assert reloaded.key_ids == [A.id]
    assert not reloaded.trusts_first_use


def test_a_configured_key_turns_first_use_off(tmp_path: Path) -> None:
    pinned = PinnedKeys.load(tmp_path, configured_public_key=A.public)

    assert not pinned.trusts_first_use
    assert pinned.public_key(A.id) == A.public
    with pytest.raises(UntrustedKeySet):
        pinned.update_from(key_set(B, [(B, "active")]))  # an impostor's self-signed set
    assert pinned.key_ids == [A.id]


def test_a_rotation_is_followed_without_a_gap(tmp_path: Path) -> None:
    pinned = PinnedKeys.load(tmp_path, configured_public_key=A.public)

    pinned.update_from(key_set(A, [(A, "active"), (B, "next")], NOW))  # next published ahead of use
    pinned.update_from(key_set(B, [(B, "active"), (A, "retired")], NOW + timedelta(days=1)))
    pinned.update_from(key_set(B, [(B, "active")], NOW + timedelta(days=8)))

    assert pinned.key_ids == [B.id]
    # A restart with the same configured key keeps the trust that descends from it.
    assert PinnedKeys.load(tmp_path, configured_public_key=A.public).key_ids == [B.id]


REFUSED = {
    "signed by a key nobody pinned": lambda: key_set(C, [(C, "active")]),
    "signed by a pinned key that has retired": lambda: key_set(A, [(A, "active")], NOW + timedelta(days=2)),
    "older than the held set": lambda: key_set(B, [(B, "active"), (C, "next")], NOW),
    "signer is not the set's active key": lambda: key_set(
        B, [(C, "active"), (B, "next")], NOW + timedelta(days=2)
    ),
    "two active keys": lambda: key_set(B, [(B, "active"), (C, "active")], NOW + timedelta(days=2)),
    "signature by another key": lambda: key_set(B, [(B, "active")], NOW + timedelta(days=2)).model_copy(
        update={"signature": key_set(C, [(B, "active")], NOW + timedelta(days=2)).signature}
    ),
    "a key id that is not its key's": lambda: key_set(B, [(B, "active")], NOW + timedelta(days=2)).model_copy(
        update={
            "keys": [
                B.published("active"),
                C.published("next").model_copy(update={"key_id": A.id}),
            ]
        }
    ),
}


@pytest.mark.parametrize("case", REFUSED)
def test_untrusted_key_sets_are_refused_and_change_nothing(case: str, tmp_path: Path) -> None:
    pinned = PinnedKeys.load(tmp_path, configured_public_key=A.public)
    pinned.update_from(key_set(A, [(A, "active"), (B, "next")], NOW))
    pinned.update_from(key_set(B, [(B, "active"), (A, "retired")], NOW + timedelta(days=1)))
    before = (tmp_path / KEYS_FILE).read_bytes()

    with pytest.raises(UntrustedKeySet):
        pinned.update_from(REFUSED[case]())

    assert pinned.key_ids == sorted([A.id, B.id])
    assert (tmp_path / KEYS_FILE).read_bytes() == before


def test_a_damaged_keys_file_never_falls_back_to_first_use(tmp_path: Path) -> None:
    PinnedKeys.load(tmp_path).update_from(key_set(A, [(A, "active")]))
    (tmp_path / KEYS_FILE).write_text("{not json")

    pinned = PinnedKeys.load(tmp_path)

    assert not pinned.trusts_first_use
    assert pinned.key_ids == []
    with pytest.raises(UntrustedKeySet, match="cannot be read"):
        pinned.update_from(key_set(C, [(C, "active")]))


def test_a_new_configured_key_replaces_trust_pinned_from_another_root(tmp_path: Path) -> None:
    PinnedKeys.load(tmp_path).update_from(key_set(A, [(A, "active")]))

    assert PinnedKeys.load(tmp_path, configured_public_key=C.public).key_ids == [C.id]


def test_a_configured_public_key_is_read_in_either_base64_alphabet() -> None:
    assert parse_public_key(b64url_encode(A.public)) == A.public
    assert parse_public_key(base64.b64encode(A.public).decode() + "\n") == A.public
    with pytest.raises(ValueError):
        parse_public_key(b64url_encode(A.public[:16]))
