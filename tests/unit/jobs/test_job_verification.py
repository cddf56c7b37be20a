"""The agent runs a job only when it is signed by a pinned key, fresh, for its database and new."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from agent.jobs.trust import PinnedKeys
from agent.jobs.verification import JobRefused, JobVerifier, ReplayStore
from shared.job_signing import b64url_encode
from shared.wire.jobs import SignedJob
from tests.unit.jobs.keys import DATABASE, NOW, Key, body, key_set, signed

CONTROL_PLANE = Key.new()
STRANGER = Key.new()


def verifier(spool: Path, *, now: datetime = NOW, database: uuid.UUID | None = DATABASE) -> JobVerifier:
    pinned = PinnedKeys.load(spool, configured_public_key=CONTROL_PLANE.public)
    return JobVerifier(pinned, ReplayStore.load(spool), database_id=database, clock=lambda: now)


def tampered(job: SignedJob) -> SignedJob:
    return job.model_copy(update={"body": job.body.replace('"simulate_indexes"', '"judge_rewrite"')})


GOOD = signed(CONTROL_PLANE)
REFUSALS: dict[str, tuple[SignedJob, str]] = {
    "tampered body": (tampered(GOOD), "does not verify"),
    "signed by another key under our key id": (
        signed(STRANGER).model_copy(update={"key_id": CONTROL_PLANE.id}),
        "does not verify",
    ),
    "signed by a key nobody pinned": (signed(STRANGER), "not pinned"),
    "unsigned": (GOOD.model_copy(update={"signature": ""}), "does not verify"),
    "garbled signature": (GOOD.model_copy(update={"signature": "bm90LWEtc2lnbmF0dXJl"}), "does not verify"),
    "signature of another job": (
        GOOD.model_copy(update={"signature": signed(CONTROL_PLANE).signature}),
        "does not verify",
    ),
    "expired beyond the leeway": (
        signed(
            CONTROL_PLANE, body(issued_at=NOW - timedelta(minutes=10), expires_at=NOW - timedelta(seconds=31))
        ),
        "expired",
    ),
    "issued in the future beyond the leeway": (
        signed(
            CONTROL_PLANE, body(issued_at=NOW + timedelta(seconds=31), expires_at=NOW + timedelta(minutes=5))
        ),
        "future",
    ),
    "expires before it was issued": (
        signed(CONTROL_PLANE, body(issued_at=NOW, expires_at=NOW - timedelta(seconds=1))),
        "before it was issued",
    ),
    "for another database": (signed(CONTROL_PLANE, body(database_id=uuid.uuid4())), "not this agent's"),
    "signed but not a job": (
        SignedJob(
            key_id=CONTROL_PLANE.id,
            body='{"id": "x"}',
            signature=b64url_encode(CONTROL_PLANE.private.sign(b'{"id": "x"}')),
        ),
        "does not parse",
    ),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_refused(case: str, tmp_path: Path) -> None:
    job, reason = REFUSALS[case]

    with pytest.raises(JobRefused) as refused:
        verifier(tmp_path).verify(job)

    assert reason in refused.value.reason


def test_a_refused_job_still_names_its_id_so_it_can_be_answered(tmp_path: Path) -> None:
    job = body(database_id=uuid.uuid4())

    with pytest.raises(JobRefused) as refused:
        verifier(tmp_path).verify(signed(CONTROL_PLANE, job))

    assert refused.value.job_id == job.id


def test_a_good_job_is_accepted_once_and_a_replay_is_refused_even_after_a_restart(tmp_path: Path) -> None:
    job = signed(CONTROL_PLANE)

    accepted = verifier(tmp_path).verify(job)
    with pytest.raises(JobRefused) as replayed:
        verifier(tmp_path).verify(job)  # a new verifier: the store was persisted

    assert accepted.kind == "simulate_indexes"
    assert "replay" in replayed.value.reason


def test_a_new_attempt_of_the_same_job_is_not_a_replay(tmp_path: Path) -> None:
    first = body()
    verify = verifier(tmp_path).verify

    verify(signed(CONTROL_PLANE, first))
    again = verify(signed(CONTROL_PLANE, first.model_copy(update={"attempt": 2})))

    assert again.id == first.id


def test_clock_skew_within_the_leeway_is_tolerated(tmp_path: Path) -> None:
    late = body(issued_at=NOW - timedelta(minutes=5), expires_at=NOW - timedelta(seconds=29))
    early = body(issued_at=NOW + timedelta(seconds=29), expires_at=NOW + timedelta(minutes=5))

    verify = verifier(tmp_path).verify

    assert verify(signed(CONTROL_PLANE, late)).id == late.id
    assert verify(signed(CONTROL_PLANE, early)).id == early.id


def test_without_a_known_database_any_database_is_accepted(tmp_path: Path) -> None:
    job = body(database_id=uuid.uuid4())

    assert verifier(tmp_path, database=None).verify(signed(CONTROL_PLANE, job)).id == job.id


def test_seen_jobs_are_forgotten_once_expired(tmp_path: Path) -> None:
    verifier(tmp_path).verify(signed(CONTROL_PLANE))
    later = NOW + timedelta(hours=1)

    verifier(tmp_path, now=later).verify(
        signed(CONTROL_PLANE, body(issued_at=later, expires_at=later + timedelta(minutes=5)))
    )

    assert len(ReplayStore.load(tmp_path)) == 1


def test_jobs_signed_by_the_next_key_verify_once_the_rotation_was_followed(tmp_path: Path) -> None:
    following = Key.new()
    pinned = PinnedKeys.load(tmp_path, configured_public_key=CONTROL_PLANE.public)
    pinned.update_from(key_set(CONTROL_PLANE, [(CONTROL_PLANE, "active"), (following, "next")]))
    verify = JobVerifier(pinned, ReplayStore.load(tmp_path), database_id=DATABASE, clock=lambda: NOW).verify

    assert verify(signed(following)).database_id == DATABASE
    assert verify(signed(CONTROL_PLANE)).database_id == DATABASE
