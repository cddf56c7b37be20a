"""Builds that take long or were cut short: the lease stays alive, and the catalog decides what is left.

A crash is simulated by what it leaves behind: a concurrent build that gave up half-way leaves exactly
the INVALID index a killed agent would, and one still blocked in another backend is a build running.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from agent.apply.apply_job import ChangeApplier
from agent.config import ApplySettings
from agent.db.session import MonitoredDatabase
from agent.jobs.executor import JobExecutor, WorkloadView
from agent.jobs.trust import PinnedKeys
from agent.jobs.verification import JobVerifier, ReplayStore
from agent.runner.job_round import JobRound
from agent.runner.signing_keys import SigningKeys
from agent.ship.backoff import RetryPolicy
from agent.ship.errors import ShipError
from agent.ship.transport import ControlPlaneClient
from shared.wire.jobs import JobBody
from tests.integration.agent_apply.conftest import (
    CREATE_CUSTOMER_INDEX,
    ControlPlaneKey,
    change,
    index_states,
    release_later,
    succeeded,
)
from tests.integration.ship.conftest import TOKEN, Reply, ScriptedServer


def leave_invalid_index(db_url: str, writer: psycopg.Connection) -> None:
    """What a build cut short leaves: its index in the catalog, INVALID."""
    writer.execute("UPDATE orders SET status = 'done' WHERE id = 1")
    with psycopg.connect(db_url, autocommit=True) as crashed_build:
        crashed_build.execute("SET lock_timeout = '100ms'")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            crashed_build.execute(CREATE_CUSTOMER_INDEX.rstrip(";"))
    writer.rollback()


def test_an_invalid_index_left_by_a_crashed_build_is_dropped_and_built_again(
    orders: psycopg.Connection, db_url: str, applier: ChangeApplier, other_session: psycopg.Connection
) -> None:
    leave_invalid_index(db_url, other_session)
    assert index_states(orders) == {"orders_customer_id_idx": False}

    result = succeeded(applier.run("apply", change(CREATE_CUSTOMER_INDEX)))

    assert result["outcome"] == "applied"
    assert any("left by an earlier attempt" in warning for warning in result["warnings"])
    assert index_states(orders) == {"orders_customer_id_idx": True}


@pytest.fixture
def build_in_another_backend(
    orders: psycopg.Connection, db_url: str, other_session: psycopg.Connection
) -> Iterator[threading.Thread]:
    """A concurrent build of the same index, running (waiting for a writer) in another backend."""
    other_session.execute("UPDATE orders SET status = 'done' WHERE id = 1")

    def build() -> None:
        with psycopg.connect(db_url, autocommit=True) as builder:
            builder.execute(CREATE_CUSTOMER_INDEX.rstrip(";"))

    thread = threading.Thread(target=build, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while index_states(orders) != {"orders_customer_id_idx": False} and time.monotonic() < deadline:
        time.sleep(0.02)
    yield thread
    other_session.rollback()
    thread.join(timeout=10)


def test_an_invalid_index_still_being_built_by_another_backend_is_left_alone(
    orders: psycopg.Connection,
    applier: ChangeApplier,
    other_session: psycopg.Connection,
    build_in_another_backend: threading.Thread,
) -> None:
    result = applier.run("apply", change(CREATE_CUSTOMER_INDEX))

    assert result.status == "failed"
    assert "a build of it is still running" in (result.error or "")
    other_session.rollback()
    build_in_another_backend.join(timeout=10)
    # Once that build is done, the job delivered again finds the work done.
    assert succeeded(applier.run("apply", change(CREATE_CUSTOMER_INDEX)))["outcome"] == "already_applied"


def test_the_job_lease_is_renewed_while_a_slow_build_waits_for_a_lock(
    orders: psycopg.Connection,
    db_url: str,
    other_session: psycopg.Connection,
    scripted: ScriptedServer,
    tmp_path: Path,
) -> None:
    patient = ApplySettings(
        lock_timeout_ms=5_000, lock_retries=0, retry_spacing_s=0.0, lease_renew_interval_s=0.1
    )
    client = ControlPlaneClient(scripted.url, TOKEN, retry=RetryPolicy(0.01, 0.01, 1))
    pinned = PinnedKeys.load(tmp_path)
    jobs = JobRound(
        client,
        JobExecutor(
            MonitoredDatabase(db_url),
            WorkloadView(),
            allow_apply=True,
            applier=ChangeApplier(db_url, patient),
        ),
        verifier=JobVerifier(pinned, ReplayStore.load(tmp_path), database_id=None),
        keys=SigningKeys(client, pinned),
        max_jobs=10,
        lease_renew_interval_s=patient.lease_renew_interval_s,
    )
    key = ControlPlaneKey()
    job = key.sign("apply", change(CREATE_CUSTOMER_INDEX))
    job_id = JobBody.model_validate_json(job.body).id
    scripted.queue(Reply(200, key.key_set()), Reply(200, {"jobs": [job.model_dump()]}))
    other_session.execute("LOCK TABLE orders IN SHARE ROW EXCLUSIVE MODE")
    release_later(other_session, 0.5)

    # The cycle's deadline has passed already: a change runs regardless and still gets answered.
    jobs.run(deadline=time.monotonic() + 0.2)

    paths = [r.path for r in scripted.requests if r.method == "POST"]
    renewals = [p for p in paths if p == f"/api/v1/agent/jobs/{job_id}/lease"]
    assert len(renewals) >= 2
    assert paths[-1] == f"/api/v1/agent/jobs/{job_id}/result"  # every renewal came before the answer
    answer = scripted.requests[-1].json()
    assert answer["status"] == "succeeded", answer
    assert answer["result"]["duration_s"] >= 0.3
    assert index_states(orders) == {"orders_customer_id_idx": True}


def test_renew_lease_posts_to_the_jobs_lease_endpoint_and_reads_the_new_expiry(
    scripted: ScriptedServer,
) -> None:
    key = ControlPlaneKey()
    job_id = JobBody.model_validate_json(key.sign("apply", change(CREATE_CUSTOMER_INDEX)).body).id
    scripted.queue(Reply(200, {"job_id": str(job_id), "lease_expires_at": "2030-01-01T00:00:00Z"}))

    with ControlPlaneClient(scripted.url, TOKEN, retry=RetryPolicy(0.01, 0.01, 1)) as client:
        renewal = client.renew_lease(job_id)

    assert renewal is not None and renewal.job_id == job_id
    assert renewal.lease_expires_at.year == 2030
    assert scripted.requests[-1].path == f"/api/v1/agent/jobs/{job_id}/lease"


@pytest.mark.parametrize("status", [404, 409])
def test_a_lease_the_control_plane_no_longer_grants_raises(scripted: ScriptedServer, status: int) -> None:
    key = ControlPlaneKey()
    job_id = JobBody.model_validate_json(key.sign("apply", change(CREATE_CUSTOMER_INDEX)).body).id
    scripted.queue(Reply(status))

    client = ControlPlaneClient(scripted.url, TOKEN, retry=RetryPolicy(0.01, 0.01, 1))
    with client, pytest.raises(ShipError):
        client.renew_lease(job_id)
