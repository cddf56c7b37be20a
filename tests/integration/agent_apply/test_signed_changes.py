"""Signed apply jobs over real HTTP: a signature is necessary, never sufficient.

The agent runs a change only with apply enabled and only when its own allow-list admits the statement;
everything else is answered `refused` with the reason, and the database is left exactly as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from agent.apply.apply_job import ChangeApplier
from agent.db.session import MonitoredDatabase
from agent.jobs.executor import JobExecutor, WorkloadView
from agent.jobs.trust import PinnedKeys
from agent.jobs.verification import JobVerifier, ReplayStore
from agent.runner.job_round import JobRound
from agent.runner.signing_keys import SigningKeys
from agent.ship.backoff import RetryPolicy
from agent.ship.transport import ControlPlaneClient
from shared.wire.jobs import JobBody, SignedJob
from tests.integration.agent_apply.conftest import (
    CREATE_CUSTOMER_INDEX,
    FAST,
    ControlPlaneKey,
    change,
    index_states,
)
from tests.integration.ship.conftest import TOKEN, Reply, ScriptedServer


def job_round(scripted: ScriptedServer, db_url: str, spool: Path, *, allow_apply: bool) -> JobRound:
    client = ControlPlaneClient(scripted.url, TOKEN, retry=RetryPolicy(0.01, 0.01, 1))
    pinned = PinnedKeys.load(spool)
    executor = JobExecutor(
        MonitoredDatabase(db_url),
        WorkloadView(),
        allow_apply=allow_apply,
        applier=ChangeApplier(db_url, FAST),
    )
    return JobRound(
        client,
        executor,
        verifier=JobVerifier(pinned, ReplayStore.load(spool), database_id=None),
        keys=SigningKeys(client, pinned),
        max_jobs=10,
        lease_renew_interval_s=FAST.lease_renew_interval_s,
    )


def answers(scripted: ScriptedServer, jobs: list[SignedJob]) -> list[dict[str, Any]]:
    posted = {
        r.path.split("/")[-2]: r.json()
        for r in scripted.requests
        if r.method == "POST" and r.path.endswith("/result")
    }
    return [posted[str(JobBody.model_validate_json(job.body).id)] for job in jobs]


def test_apply_disabled_refuses_a_validly_signed_change(
    orders: psycopg.Connection, db_url: str, scripted: ScriptedServer, tmp_path: Path
) -> None:
    key = ControlPlaneKey()
    job = key.sign("apply", change(CREATE_CUSTOMER_INDEX))
    scripted.queue(Reply(200, key.key_set()), Reply(200, {"jobs": [job.model_dump()]}))

    job_round(scripted, db_url, tmp_path, allow_apply=False).run(deadline=None)

    [answer] = answers(scripted, [job])
    assert answer["status"] == "refused"
    assert "apply disabled" in answer["error"]
    assert index_states(orders) == {}


def test_signed_drop_table_alter_table_multi_statement_and_blocking_create_index_are_refused(
    orders: psycopg.Connection, db_url: str, scripted: ScriptedServer, tmp_path: Path
) -> None:
    key = ControlPlaneKey()
    jobs = [
        key.sign("apply", change("DROP TABLE public.orders")),
        key.sign("apply", change("ALTER TABLE public.orders DROP COLUMN status")),
        key.sign("apply", change(f"{CREATE_CUSTOMER_INDEX} DROP TABLE public.orders;")),
        key.sign("apply", change("CREATE INDEX orders_customer_id_idx ON public.orders (customer_id)")),
        key.sign("rollback", change("TRUNCATE public.orders")),
    ]
    scripted.queue(Reply(200, key.key_set()), Reply(200, {"jobs": [job.model_dump() for job in jobs]}))

    outcome = job_round(scripted, db_url, tmp_path, allow_apply=True).run(deadline=None)

    assert outcome.done == len(jobs)  # verified and answered; each answer is a refusal
    drop_table, alter_table, two_statements, blocking_index, truncate = answers(scripted, jobs)
    assert all(a["status"] == "refused" for a in answers(scripted, jobs))
    assert "DROP TABLE statement is not on the agent's allow-list" in drop_table["error"]
    assert "ALTER TABLE statement is not on the agent's allow-list" in alter_table["error"]
    assert "more than one statement" in two_statements["error"]
    assert "without CONCURRENTLY" in blocking_index["error"]
    assert "TRUNCATE" in truncate["error"]
    assert orders.execute("SELECT count(*), count(status) FROM orders").fetchone() == (20000, 20000)
    assert index_states(orders) == {}


def test_signed_drop_table_is_refused(
    orders: psycopg.Connection, db_url: str, scripted: ScriptedServer, tmp_path: Path
) -> None:
    key = ControlPlaneKey()
    job = key.sign("rollback", change("DROP TABLE IF EXISTS public.orders CASCADE"))
    scripted.queue(Reply(200, key.key_set()), Reply(200, {"jobs": [job.model_dump()]}))

    job_round(scripted, db_url, tmp_path, allow_apply=True).run(deadline=None)

    [answer] = answers(scripted, [job])
    assert answer["status"] == "refused"
    assert orders.execute("SELECT to_regclass('public.orders') IS NOT NULL").fetchone() == (True,)


def test_a_signed_create_index_concurrently_is_applied_and_answered(
    orders: psycopg.Connection, db_url: str, scripted: ScriptedServer, tmp_path: Path
) -> None:
    key = ControlPlaneKey()
    job = key.sign("apply", change(CREATE_CUSTOMER_INDEX, index_name="orders_customer_id_idx"))
    scripted.queue(Reply(200, key.key_set()), Reply(200, {"jobs": [job.model_dump()]}))

    job_round(scripted, db_url, tmp_path, allow_apply=True).run(deadline=None)

    [answer] = answers(scripted, [job])
    assert answer["status"] == "succeeded"
    assert answer["result"]["outcome"] == "applied"
    assert index_states(orders) == {"orders_customer_id_idx": True}
