"""Analysis end to end: a real agent, a real control plane, and an LLM mocked with respx.

The monitored database has a planted missing index (events.device_id). The mocked provider proposes
a useful index, a useful read-only rewrite, a useless index and a DROP TABLE. Nothing it says is
believed: the agent simulates the index ideas with HypoPG and judges the rewrite with the planner,
and only what lowers the cost is shown as an improvement. The DROP TABLE never reaches the agent.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import respx

from control_plane.settings import Settings
from tests.e2e.analysis_server import InProcessDeployment, deployed
from tests.e2e.conftest import agent_environment, plant_events
from tests.integration.advise.conftest import run
from tests.integration.agent.conftest import run_agent
from tests.integration.control_plane.analysis.conftest import (
    LLM_URL,
    analysis_settings,
    chat_completion,
    openai_settings,
    run_worker,
)
from tests.integration.control_plane.inbox import drain_inbox_at

LOOKUP = "SELECT id, kind FROM events WHERE device_id = $1"
ACCOUNTS_OF_KIND = "SELECT DISTINCT account_id FROM events WHERE account_id IN (SELECT account_id FROM events WHERE kind = $1)"
USEFUL_REWRITE = "SELECT DISTINCT account_id FROM events WHERE kind = $1"
SPILLING = "SELECT account_id, count(DISTINCT device_id) FROM events GROUP BY account_id"
PLANTED_LITERAL = "confidential-kind-literal"

LOOKUP_ANSWER = {
    "explanation": "Every call reads all of events to find one device's rows: device_id has no index.",
    "suggestions": [
        {"kind": "create_index", "table": "public.events", "columns": ["device_id"],
         "rationale": "device_id is selective and has no index.", "confidence": 0.9, "risk": "low"},
        {"kind": "create_index", "table": "public.events", "columns": ["kind"],
         "rationale": "kind is filtered often.", "confidence": 0.3, "risk": "low"},
        {"kind": "rewrite", "sql": "DROP TABLE public.events",
         "rationale": "A smaller table is faster to scan.", "confidence": 0.1, "risk": "high"},
    ],
}  # fmt: skip
REWRITE_ANSWER = {
    "explanation": "The IN subquery scans events a second time; the outer DISTINCT already deduplicates.",
    "suggestions": [
        {"kind": "rewrite", "sql": USEFUL_REWRITE, "rationale": "The semi-join on the same table is redundant.",
         "confidence": 0.8, "risk": "low"},
    ],
}  # fmt: skip


@pytest.fixture
def shop(db: psycopg.Connection) -> psycopg.Connection:
    plant_events(db)
    play_workload(db)
    return db


def play_workload(db: psycopg.Connection) -> None:
    run(db, "SELECT id, kind FROM events WHERE device_id = %s", [[n] for n in range(40)])
    run(db, ACCOUNTS_OF_KIND.replace("$1", "%s"), [["click"], ["view"], ["buy"]] * 4)
    db.execute(f"SELECT id FROM events WHERE kind = '{PLANTED_LITERAL}'")
    db.execute("SET work_mem = '64kB'")
    run(db, SPILLING, [[]] * 3)
    db.execute("RESET work_mem")


def agent_once(deployment: InProcessDeployment, db_url: str, spool: Path, **overrides: str) -> None:
    env = agent_environment(db_url, deployment.base_url, deployment.agent_token, spool, **overrides)
    result = run_agent("run", "--once", env=env, timeout=180)
    assert result.returncode == 0, result.stderr
    drain_inbox_at(deployment.metadata_url)


def analyse(deployment: InProcessDeployment, settings: Settings) -> dict[str, Any]:
    with deployment.api() as api:
        asked = api.post(f"/databases/{deployment.database_id}/analyze", json={})
    assert asked.status_code == 202, asked.text
    assert run_worker(settings) >= 1
    run_id = asked.json()["run_id"]
    found: dict[str, Any] = deployment.get(f"/databases/{deployment.database_id}/analyses/{run_id}")
    assert found["status"] == "succeeded", found
    return found


def fingerprint_of(deployment: InProcessDeployment, text: str) -> str:
    queries = deployment.get(f"/databases/{deployment.database_id}/queries?limit=50")
    return str(next(q["fingerprint"] for q in queries if q["query"] == text))


def answer_for(request: httpx.Request) -> httpx.Response:
    prompt = request.content.decode()
    if "device_id = $1" in prompt:
        answer: dict[str, Any] = LOOKUP_ANSWER
    elif "kind = $1" in prompt and "DISTINCT" in prompt:
        answer = REWRITE_ANSWER
    else:
        answer = {"explanation": "Nothing stands out.", "suggestions": []}
    return httpx.Response(200, json=chat_completion(answer))


@pytest.fixture
def llm_settings(metadata_url: str) -> Settings:
    return openai_settings(metadata_url)


@pytest.fixture
def provider() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        router.route(host="127.0.0.1").pass_through()  # the test's own calls to the control plane
        router.post(LLM_URL).mock(side_effect=answer_for)
        yield router


def agent_jobs(metadata_url: str) -> list[tuple[str, str, str]]:
    with psycopg.connect(metadata_url) as conn:
        rows = conn.execute(
            "SELECT kind, status, payload::text FROM agent_jobs ORDER BY created_at"
        ).fetchall()
    return [(row[0], row[1], row[2]) for row in rows]


@pytest.mark.slow
def test_only_what_the_agent_proves_is_shown_as_an_improvement(
    shop: psycopg.Connection, db_url: str, tmp_path: Path, llm_settings: Settings, provider: respx.MockRouter
) -> None:
    with deployed(llm_settings) as deployment:
        agent_once(deployment, db_url, tmp_path / "spool", OPTISCHEMA_ADVISE_EVERY_CYCLES="0")
        analysis = analyse(deployment, llm_settings)
        agent_once(
            deployment, db_url, tmp_path / "spool", OPTISCHEMA_ADVISE_EVERY_CYCLES="0"
        )  # runs the proofs
        recommendations = deployment.get(f"/databases/{deployment.database_id}/recommendations")
        settled = deployment.get(f"/databases/{deployment.database_id}/analyses/{analysis['id']}")
        lookup = fingerprint_of(deployment, LOOKUP)
        detail = deployment.get(f"/databases/{deployment.database_id}/queries/{lookup}")

    [index] = [r for r in recommendations if r["kind"] == "create_index"]
    assert (index["table"], index["columns"], index["tier"]) == ("public.events", ["device_id"], "verified")
    [proof] = [s for s in settled["suggestions"] if s["columns"] == ["device_id"]]
    assert (proof["source"], proof["status"]) == ("llm", "verified")  # the model's idea, proven
    [evidence] = index["queries"]
    assert (evidence["cost_before"], evidence["cost_after"]) == (proof["cost_before"], proof["cost_after"])
    assert evidence["cost_after"] < evidence["cost_before"] / 5
    assert index["improvement_pct"] >= 80

    [rewrite] = [r for r in recommendations if r["kind"] == "rewrite"]
    assert rewrite["tier"] == "estimated"
    assert rewrite["sql"] == USEFUL_REWRITE
    assert rewrite["improvement_pct"] >= 20

    [useless] = [s for s in settled["suggestions"] if s["columns"] == ["kind"]]
    assert useless["status"] == "dismissed"
    assert not [r for r in recommendations if r["columns"] == ["kind"]]

    jobs = agent_jobs(llm_settings.metadata_url)
    assert {kind for kind, _, _ in jobs} == {"simulate_indexes", "judge_rewrite"}
    assert all(status == "succeeded" for _, status, _ in jobs), jobs
    assert not [payload for _, _, payload in jobs if "drop" in payload.lower()]
    assert any("DROP TABLE" in (d["sql"] or "") and "allow-list" in d["reason"] for d in settled["dropped"])

    assert detail["explanation"] == LOOKUP_ANSWER["explanation"]
    bodies = [
        call.request.content.decode() for call in provider.calls if call.request.url.host != "127.0.0.1"
    ]
    assert bodies and not [body for body in bodies if PLANTED_LITERAL in body or "sk-analysis-test" in body]
    assert all(json.loads(body)["messages"][0]["role"] == "system" for body in bodies)


@pytest.mark.slow
def test_without_an_llm_the_rules_and_the_agent_still_recommend(
    shop: psycopg.Connection, db_url: str, tmp_path: Path, metadata_url: str
) -> None:
    settings = analysis_settings(metadata_url)  # OPTISCHEMA_LLM_PROVIDER=none
    with deployed(settings) as deployment:
        agent_once(deployment, db_url, tmp_path / "spool")  # the agent's own advisor runs too
        analysis = analyse(deployment, settings)
        recommendations = deployment.get(f"/databases/{deployment.database_id}/recommendations")
        detail = deployment.get(
            f"/databases/{deployment.database_id}/queries/{fingerprint_of(deployment, LOOKUP)}"
        )

    by_source: dict[str, list[dict[str, Any]]] = {}
    for recommendation in recommendations:
        by_source.setdefault(recommendation["source"], []).append(recommendation)
    assert any(r["columns"] == ["device_id"] and r["tier"] == "verified" for r in by_source["agent"])
    [spill] = [r for r in by_source["rules"] if "temp blocks" in r["rationale"]]
    assert (spill["kind"], spill["tier"]) == ("config", "advisory")
    assert spill["sql"].startswith("SET work_mem")
    assert "no LLM provider is configured" in " ".join(analysis["notices"])
    assert analysis["summary"]["agent_findings"] >= 1
    assert "Seq Scan on events" in detail["explanation"]
