"""Privacy mode end to end: a real agent with --privacy-mode pseudonyms, a real control plane, an LLM
mocked with respx, and a monitored database whose names are secrets themselves.

What the control plane stores (every row of every table of its metadata database), every request it
makes to the LLM and every line it logs hold none of the real names; and a verified index, approved
in pseudonyms over the API, is built by the agent on the real table and column, its answer flowing
back in pseudonyms.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import respx

from agent.privacy.names import Pseudonyms
from control_plane.db.engine import engine_from_url
from control_plane.ingestion.inbox_worker import store_inbox
from control_plane.settings import Settings
from tests.e2e.analysis_server import InProcessDeployment, deployed
from tests.e2e.conftest import agent_environment
from tests.integration.advise.conftest import fresh_statistics, run
from tests.integration.agent.conftest import run_agent
from tests.integration.control_plane.analysis.conftest import (
    LLM_URL,
    chat_completion,
    openai_settings,
    run_worker,
)

PRIVACY_KEY = "the e2e privacy key, never sent anywhere"
# Every real name of the monitored schema; none may reach the control plane in any form or case.
SECRET_NAMES = ("vault_private", "customer_secrets", "ssn_hash", "card_tier", "payout_note")
LOOKUP = "SELECT id, card_tier FROM vault_private.customer_secrets WHERE ssn_hash = %s"
BY_TIER = "SELECT count(*) FROM vault_private.customer_secrets WHERE card_tier = %s"


@pytest.fixture
def secrets_db(db: psycopg.Connection) -> psycopg.Connection:
    db.execute(
        """
        CREATE SCHEMA vault_private;
        CREATE TABLE vault_private.customer_secrets (
            id bigserial PRIMARY KEY,
            ssn_hash text NOT NULL,
            card_tier int NOT NULL,
            payout_note text NOT NULL
        );
        INSERT INTO vault_private.customer_secrets (ssn_hash, card_tier, payout_note)
        SELECT md5(g::text), g % 500, repeat('n', 40) FROM generate_series(1, 60000) g;
        """
    )
    fresh_statistics(db)
    run(db, LOOKUP, [[f"{n:032x}"] for n in range(40)])
    run(db, BY_TIER, [[n] for n in range(20)])
    return db


@pytest.fixture
def names() -> Pseudonyms:
    """The test's own oracle: the key is the test's, so it can tell which pseudonym is which."""
    return Pseudonyms(PRIVACY_KEY.encode())


def answer_for(names: Pseudonyms) -> Any:
    tier, key = names.pseudonym("card_tier", "c"), names.pseudonym("id", "c")
    table = f"{names.pseudonym('vault_private', 's')}.{names.pseudonym('customer_secrets', 't')}"

    def answer(request: httpx.Request) -> httpx.Response:
        # The model sees only pseudonyms, and answers in them: an index for the statement on card_tier
        # (with the key as well: the agent's advisor already found the one on card_tier alone).
        suggestions = (
            [{"kind": "create_index", "table": table, "columns": [tier, key], "rationale": "selective filter",
              "confidence": 0.8, "risk": "low"}]
            if f"{tier} = $1" in request.content.decode()
            else []
        )  # fmt: skip
        return httpx.Response(
            200, json=chat_completion({"explanation": "A scan.", "suggestions": suggestions})
        )

    return answer


@pytest.fixture
def provider(names: Pseudonyms) -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        router.route(host="127.0.0.1").pass_through()
        router.post(LLM_URL).mock(side_effect=answer_for(names))
        yield router


def agent_once(
    deployment: InProcessDeployment, settings: Settings, db_url: str, spool: Path, **env: str
) -> str:
    overrides = {
        "OPTISCHEMA_PRIVACY_MODE": "pseudonyms",
        "OPTISCHEMA_PRIVACY_KEY": PRIVACY_KEY,
        "OPTISCHEMA_ADVISE_TIME_BUDGET_S": "60",
        **env,
    }
    environment = agent_environment(db_url, deployment.base_url, deployment.agent_token, spool, **overrides)
    result = run_agent("run", "--once", env=environment, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]

    async def store() -> int:  # the in-process server runs no workers: its inbox is stored here
        engine = engine_from_url(settings.metadata_url, pool_size=1)
        try:
            return await store_inbox(engine, settings)
        finally:
            await engine.dispose()

    asyncio.run(store())
    return result.stderr


def everything_stored(metadata_url: str) -> str:
    """Every row of every table of the metadata database, as text."""
    with psycopg.connect(metadata_url) as conn:
        tables = conn.execute(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
        rows = [conn.execute(f"SELECT coalesce(string_agg(t::text, ' '), '') FROM {table} AS t").fetchone()
                for (table,) in tables]  # fmt: skip
    return " ".join(str(row[0]) for row in rows if row is not None)


def leaked(text: str) -> list[str]:
    return [name for name in SECRET_NAMES if name in text.lower()]


def real_indexes(db: psycopg.Connection) -> dict[str, str]:
    """The monitored table's indexes: {"USING btree (columns)": name}."""
    rows = db.execute(
        "SELECT indexname, indexdef FROM pg_indexes "
        "WHERE schemaname = 'vault_private' AND tablename = 'customer_secrets'"
    ).fetchall()
    return {
        str(definition).split(" ON vault_private.customer_secrets ")[1]: str(name)
        for name, definition in rows
    }


def reported_indexes(metadata_url: str) -> list[dict[str, Any]]:
    with psycopg.connect(metadata_url) as conn:
        [(indexes,)] = conn.execute("SELECT indexes FROM database_schemas").fetchall()
    return [{"name": index["name"], "columns": index["columns"]} for index in indexes]


def jobs(metadata_url: str) -> list[dict[str, Any]]:
    with psycopg.connect(metadata_url) as conn:
        rows = conn.execute(
            "SELECT kind, status, payload, result, error, recommendation_id FROM agent_jobs ORDER BY created_at"
        )
        keys = ("kind", "status", "payload", "result", "error", "recommendation_id")
        return [dict(zip(keys, row, strict=True)) for row in rows]


@pytest.mark.slow
def test_no_real_name_leaves_the_agent_and_an_approved_index_is_built_through_pseudonyms(
    secrets_db: psycopg.Connection,
    db_url: str,
    metadata_url: str,
    tmp_path: Path,
    names: Pseudonyms,
    provider: respx.MockRouter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = openai_settings(metadata_url)
    spool = tmp_path / "spool"
    ssn_hash, tier = names.pseudonym("ssn_hash", "c"), names.pseudonym("card_tier", "c")
    table = f"{names.pseudonym('vault_private', 's')}.{names.pseudonym('customer_secrets', 't')}"
    with deployed(settings) as deployment:
        advised = agent_once(deployment, settings, db_url, spool)  # its own advisor finds the ssn_hash index
        with deployment.api() as api:
            asked = api.post(f"/databases/{deployment.database_id}/analyze", json={})
        assert asked.status_code == 202, asked.text
        assert run_worker(settings) >= 1
        agent_once(deployment, settings, db_url, spool, OPTISCHEMA_ADVISE_EVERY_CYCLES="0")  # runs the proofs

        [database] = deployment.get("/databases")
        assert database["privacy_mode"] == "pseudonyms"
        recommendations = deployment.get(f"/databases/{deployment.database_id}/recommendations")
        found = [r for r in recommendations if r["kind"] == "create_index" and r["columns"] == [ssn_hash]]
        assert len(found) == 1, (recommendations, advised[-3000:])
        [finding] = found
        assert (finding["table"], finding["tier"], finding["status"]) == (table, "verified", "proposed")
        assert re.fullmatch(
            rf"CREATE INDEX CONCURRENTLY i_[0-9a-f]{{8}} ON {re.escape(table)}\({ssn_hash}\)", finding["sql"]
        )
        simulated = [job for job in jobs(metadata_url) if job["kind"] == "simulate_indexes"]
        assert simulated and all(job["status"] == "succeeded" for job in simulated), simulated
        assert [c["columns"] for c in simulated[0]["payload"]["candidates"]] == [
            [tier, names.pseudonym("id", "c")]
        ]
        assert simulated[0]["result"]["indexes"][0]["table"] == table
        # The model's idea, proven by the agent in pseudonyms: its DDL names the index itself.
        analysis = deployment.get(f"/databases/{deployment.database_id}/analyses/{asked.json()['run_id']}")
        proofs = [r for r in recommendations if r["columns"] == [tier, names.pseudonym("id", "c")]]
        assert len(proofs) == 1, (analysis, simulated)
        [proven] = proofs
        assert (proven["source"], proven["tier"]) == ("llm", "verified")

        with deployment.api() as api:
            for approving in (finding, proven):
                approved = api.post(f"/recommendations/{approving['id']}/approve", json={})
                assert approved.status_code in (200, 202), approved.text
        agent_once(
            deployment,
            settings,
            db_url,
            spool,
            OPTISCHEMA_ADVISE_EVERY_CYCLES="0",
            OPTISCHEMA_ALLOW_APPLY="true",
        )
        applied = {
            r["id"]: r["status"]
            for r in deployment.get(f"/databases/{deployment.database_id}/recommendations")
        }
        run(secrets_db, LOOKUP, [[f"{n:032x}"] for n in range(40, 60)])
        agent_once(
            deployment, settings, db_url, spool, OPTISCHEMA_ADVISE_EVERY_CYCLES="0"
        )  # after the change

    assert (applied[finding["id"]], applied[proven["id"]]) == ("applied", "applied")
    changes = {job["recommendation_id"]: job for job in jobs(metadata_url) if job["kind"] == "apply"}
    for change in changes.values():
        assert (change["status"], change["result"]["outcome"]) == ("succeeded", "applied"), change
        assert change["result"]["index_name"] == change["payload"]["index_name"]  # a pseudonym, not a name
        assert change["result"]["index_valid"] is True
    # Built on the real table and columns: the agent's finding under its real name, the control
    # plane's under the name its DDL chose (made of pseudonyms only).
    built = real_indexes(secrets_db)
    assert built["USING btree (ssn_hash)"].endswith("_ssn_hash_idx")
    chosen = changes[uuid.UUID(proven["id"])]["payload"]["index_name"]
    assert built["USING btree (card_tier, id)"] == chosen
    # The next snapshot reports both indexes under the names the approved SQL gave them.
    reported = reported_indexes(metadata_url)
    assert {
        "name": changes[uuid.UUID(finding["id"])]["payload"]["index_name"],
        "columns": [ssn_hash],
    } in reported
    assert {"name": chosen, "columns": [tier, names.pseudonym("id", "c")]} in reported

    stored = everything_stored(metadata_url)
    assert names.pseudonym("customer_secrets", "t") in stored  # the dump does see the stored rows
    assert leaked(stored) == []
    bodies = [
        call.request.content.decode() for call in provider.calls if call.request.url.host != "127.0.0.1"
    ]
    assert bodies and [body for body in bodies if tier in body]
    assert [leaked(body) for body in bodies] == [[] for _ in bodies]
    assert caplog.text and leaked(caplog.text) == []
