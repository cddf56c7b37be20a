"""The shared signing helpers: what the control plane signs is exactly what the agent verifies."""

from __future__ import annotations

import pytest

from shared.job_signing import (
    b64url_decode,
    key_set_message,
    load_job,
    peek_job_id,
    verify_key_set,
    verify_signature,
)
from tests.unit.jobs.keys import NOW, Key, body, key_set, signed

KEY, OTHER = Key.new(), Key.new()


def test_a_signed_job_verifies_and_loads_back_to_its_body() -> None:
    job = body()

    signed_job = signed(KEY, job)

    assert verify_signature(KEY.public, signed_job)
    assert not verify_signature(OTHER.public, signed_job)
    assert load_job(signed_job) == job
    assert peek_job_id(signed_job) == job.id


def test_a_key_set_signature_covers_its_keys_and_time() -> None:
    published = key_set(KEY, [(KEY, "active"), (OTHER, "next")])

    assert verify_key_set(KEY.public, published)
    assert not verify_key_set(KEY.public, published.model_copy(update={"keys": published.keys[:1]}))
    assert not verify_key_set(KEY.public, published.model_copy(update={"issued_at": NOW.replace(year=2030)}))


def test_a_key_set_signature_can_never_pass_for_a_job_signature() -> None:
    message = key_set_message([KEY.published("active")], NOW)

    assert not message.startswith(b"{")  # every job body is a JSON object


@pytest.mark.parametrize("text", ["a+b", "a/b", "a b", "é"])
def test_base64url_is_strict(text: str) -> None:
    with pytest.raises(ValueError):
        b64url_decode(text)
