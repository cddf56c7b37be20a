"""Jobs reach the agent over real HTTP; only those the control plane's pinned key signed, fresh and
never seen before, are run. Every refusal is answered with the reason, never silently dropped."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from agent.config import CollectorSettings, SessionLimits
from agent.db.session import MonitoredDatabase
from agent.jobs.executor import JobExecutor, WorkloadView
from agent.jobs.trust import PinnedKeys
from agent.jobs.verification import JobVerifier, ReplayStore
from agent.runner.job_round import JobRound
from agent.runner.signing_keys import SigningKeys
from agent.ship.backoff import RetryPolicy
from agent.ship.transport import ControlPlaneClient
from agent.snapshot.collector import Collector
from shared.job_signing import b64url_encode, raw_public_key, sign_job, sign_key_set
from shared.wire.jobs import JobBody, PublishedKey, SignedJob
from tests.integration.advise.conftest import fresh_statistics, run
from tests.integration.agent_apply.conftest import SigningKey
from tests.integration.ship.conftest import TOKEN, Reply, ScriptedServer

DATABASE_ID = uuid.uuid4()
LOOKUP = "SELECT id, kind FROM events WHERE device_id = $1"


class ControlPlaneKey(SigningKey):
    def sign(
        self,
        payload: dict[str, Any],
        *,
        job_id: uuid.UUID | None = None,
        expires_in: timedelta = timedelta(minutes=5),
    ) -> SignedJob:
        now = datetime.now(UTC)
        body = JobBody(
            id=job_id or uuid.uuid4(),
            database_id=DATABASE_ID,
            kind="simulate_indexes",
            issued_at=min(now, now + expires_in - timedelta(minutes=1)),
            expires_at=now + expires_in,
            payload=payload,
        )
        return sign_job(self.private, self.key_id, body)


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def workload(db: psycopg.Connection, db_url: str) -> Iterator[tuple[MonitoredDatabase, WorkloadView, str]]:
    db.execute(
        """
        CREATE TABLE events (id bigserial PRIMARY KEY, device_id int NOT NULL, kind text NOT NULL);
        INSERT INTO events (device_id, kind) SELECT (g / 7) % 1009, 'view' FROM generate_series(1, 50000) g;
        """
    )
    fresh_statistics(db)
    run(db, "SELECT id, kind FROM events WHERE device_id = %s", [[n] for n in range(10)])
    database = MonitoredDatabase(db_url, SessionLimits(connect_timeout_s=5))
    with database:
        collector = Collector(database, CollectorSettings(plans_per_cycle=0))
        collection = collector.collect()
        view = WorkloadView(
            statement_texts=collector.statement_texts(),
            server_version_num=collection.snapshot.server.version_num,
        )
        view.known_columns = {
            f"{t.schema_name}.{t.name}": {c.name for c in t.columns} for t in collection.schema.tables
        }
        fingerprint = next(
            item.stats.fingerprint for item in collection.workload if item.stats.query == LOOKUP
        )
        yield database, view, fingerprint


def job_round(
    scripted: ScriptedServer, workload: tuple[MonitoredDatabase, WorkloadView, str], spool: Path
) -> JobRound:
    database, view, _ = workload
    client = ControlPlaneClient(scripted.url, TOKEN, retry=RetryPolicy(0.01, 0.01, 1))
    pinned = PinnedKeys.load(spool)
    verifier = JobVerifier(pinned, ReplayStore.load(spool), database_id=None, leeway=timedelta(seconds=5))
    return JobRound(
        client,
        JobExecutor(database, view, allow_apply=False),
        verifier=verifier,
        keys=SigningKeys(client, pinned),
        max_jobs=10,
    )


def results(scripted: ScriptedServer) -> dict[str, dict[str, Any]]:
    return {
        r.path.split("/")[-2]: r.json()
        for r in scripted.requests
        if r.method == "POST" and r.path.endswith("/result")
    }


def test_only_the_genuine_job_runs_and_every_other_is_refused_with_its_reason(
    scripted: ScriptedServer, workload: tuple[MonitoredDatabase, WorkloadView, str], tmp_path: Path
) -> None:
    fingerprint = workload[2]
    payload = {
        "candidates": [{"table": "public.events", "columns": ["device_id"]}],
        "fingerprints": [fingerprint],
    }
    genuine_key, other_key = ControlPlaneKey(), ControlPlaneKey()
    genuine = genuine_key.sign(payload)
    tampered_source = genuine_key.sign(payload)
    tampered = tampered_source.model_copy(update={"body": tampered_source.body.replace("device_id", "kind")})
    forged = other_key.sign(payload)
    forged_as_ours = other_key.sign(payload).model_copy(update={"key_id": genuine_key.key_id})
    expired = genuine_key.sign(payload, expires_in=timedelta(seconds=-60))
    jobs = [genuine, tampered, forged, forged_as_ours, expired]
    # In request order: keys pinned at first contact, the jobs, two answers, the keys again (the
    # forged job names a key the agent does not know, so it asks whether a rotation happened), ...
    scripted.queue(
        Reply(200, genuine_key.key_set()),
        Reply(200, {"jobs": [j.model_dump() for j in jobs]}),
        Reply(204),
        Reply(204),
        Reply(200, genuine_key.key_set()),
    )

    outcome = job_round(scripted, workload, tmp_path).run(deadline=None)

    assert (outcome.done, outcome.refused) == (1, 4)
    answers = results(scripted)
    ok = answers[str(JobBody.model_validate_json(genuine.body).id)]
    assert ok["status"] == "succeeded"
    [cost] = ok["result"]["statements"]
    assert cost["cost_after"] < cost["cost_before"] / 5
    reasons = {
        name: answers[str(JobBody.model_validate_json(job.body).id)]
        for name, job in [
            ("tampered", tampered_source),
            ("forged", forged),
            ("forged_as_ours", forged_as_ours),
            ("expired", expired),
        ]
    }
    assert all(answer["status"] == "refused" for answer in reasons.values())
    assert "does not verify" in reasons["tampered"]["error"]
    assert "not pinned" in reasons["forged"]["error"]
    assert "does not verify" in reasons["forged_as_ours"]["error"]
    assert "expired" in reasons["expired"]["error"]


def test_a_replayed_job_is_refused_and_not_run_twice(
    scripted: ScriptedServer, workload: tuple[MonitoredDatabase, WorkloadView, str], tmp_path: Path
) -> None:
    key = ControlPlaneKey()
    job = key.sign(
        {"candidates": [{"table": "public.events", "columns": ["device_id"]}], "fingerprints": [workload[2]]}
    )
    scripted.queue(Reply(200, key.key_set()), Reply(200, {"jobs": [job.model_dump()]}), Reply(204))
    assert job_round(scripted, workload, tmp_path).run(deadline=None).done == 1

    # A restarted agent (fresh objects, same spool dir) is offered the very same signed job again.
    scripted.queue(Reply(200, key.key_set()), Reply(200, {"jobs": [job.model_dump()]}), Reply(409))
    outcome = job_round(scripted, workload, tmp_path).run(deadline=None)

    assert (outcome.done, outcome.refused) == (0, 1)
    posted = [r.json() for r in scripted.requests if r.path.endswith("/result")]
    assert [p["status"] for p in posted] == ["succeeded", "refused"]
    assert "replay" in posted[1]["error"]


def test_a_job_kind_the_agent_may_not_run_is_answered_not_ignored(
    scripted: ScriptedServer, workload: tuple[MonitoredDatabase, WorkloadView, str], tmp_path: Path
) -> None:
    key = ControlPlaneKey()
    now = datetime.now(UTC)
    apply = sign_job(
        key.private,
        key.key_id,
        JobBody(
            id=uuid.uuid4(),
            database_id=DATABASE_ID,
            kind="apply",
            issued_at=now,
            expires_at=now + timedelta(minutes=5),
            payload={"sql": "CREATE INDEX ..."},
        ),
    )
    malformed = key.sign({"candidates": "not a list"})
    scripted.queue(
        Reply(200, key.key_set()), Reply(200, {"jobs": [apply.model_dump(), malformed.model_dump()]})
    )

    job_round(scripted, workload, tmp_path).run(deadline=None)

    answers = list(results(scripted).values())
    assert [a["status"] for a in answers] == ["refused", "failed"]
    assert "apply disabled" in answers[0]["error"]
    assert "malformed" in answers[1]["error"]


def test_agent_follows_a_key_rotation_published_ahead_of_use(
    scripted: ScriptedServer, tmp_path: Path
) -> None:
    old, new = ControlPlaneKey(), ControlPlaneKey()
    now = [0.0]
    client = ControlPlaneClient(scripted.url, TOKEN, retry=RetryPolicy(0.01, 0.01, 1))
    pinned = PinnedKeys.load(tmp_path)
    keys = SigningKeys(client, pinned, refresh_interval_s=60, monotonic=lambda: now[0])
    scripted.queue(Reply(200, old.key_set()))
    keys.refresh(None, force=False)  # first contact: pins the old key
    both = [
        PublishedKey(
            key_id=old.key_id, public_key=b64url_encode(raw_public_key(old.private)), status="active"
        ),
        PublishedKey(key_id=new.key_id, public_key=b64url_encode(raw_public_key(new.private)), status="next"),
    ]
    scripted.queue(
        Reply(200, sign_key_set(old.private, old.key_id, both, datetime.now(UTC)).model_dump(mode="json"))
    )

    keys.refresh(None, force=False)
    assert not keys.knows(new.key_id)  # within the interval: no request
    now[0] = 61.0
    keys.refresh(None, force=False)

    assert keys.knows(new.key_id)
    verifier = JobVerifier(pinned, ReplayStore.load(tmp_path), database_id=None)
    assert verifier.verify(new.sign({"fingerprints": ["0123456789abcdef"]})).database_id == DATABASE_ID
