"""An app on a fresh metadata database, a tenant with a registered database, a realistic snapshot,
and the analysis worker driven by hand (one deterministic turn at a time)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from control_plane.analysis.worker import AnalysisWorker
from control_plane.app import create_app
from control_plane.db.engine import engine_from_url
from control_plane.settings import Settings
from shared.version import PRODUCT_VERSION
from shared.wire.snapshot import (
    ColumnStats,
    IndexStats,
    IntervalInfo,
    PlanSample,
    ServerInfo,
    Snapshot,
    StatementStats,
    TableStats,
)
from tests.integration.control_plane.api.conftest import (
    SeededTenant,
    as_user,
    bearer,
    register_database,
    seed_tenant,
    settings_for,
)
from tests.integration.control_plane.inbox import drain_inbox

LLM_URL = "https://llm.example.test/v1/chat/completions"
LOOKUP = "SELECT id, kind FROM events WHERE device_id = $1"
REPORT = "SELECT account_id, kind FROM events ORDER BY kind, account_id"


def fingerprint_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def seq_scan_plan(rows: float = 99.0, cost: float = 1693.0) -> dict[str, Any]:
    return {
        "Plan": {
            "Node Type": "Seq Scan",
            "Relation Name": "events",
            "Schema": "public",
            "Alias": "events",
            "Startup Cost": 0.0,
            "Total Cost": cost,
            "Plan Rows": rows,
            "Plan Width": 12,
            "Filter": "(device_id = $1)",
        }
    }


def sort_plan() -> dict[str, Any]:
    return {
        "Plan": {
            "Node Type": "Sort",
            "Total Cost": 12000.0,
            "Plan Rows": 100000,
            "Sort Key": ["kind", "account_id"],
            "Plans": [
                {
                    "Node Type": "Seq Scan",
                    "Relation Name": "events",
                    "Schema": "public",
                    "Total Cost": 1443.0,
                    "Plan Rows": 100000,
                }
            ],
        }
    }


def events_table() -> TableStats:
    return TableStats(
        schema_name="public",
        name="events",
        row_estimate=100000,
        total_bytes=8 * 2**20,
        table_bytes=6 * 2**20,
        index_bytes=2 * 2**20,
        columns=[
            ColumnStats(name="id", type="bigint", not_null=True, n_distinct=-1.0),
            ColumnStats(name="account_id", type="integer", not_null=True, n_distinct=2003),
            ColumnStats(name="device_id", type="integer", not_null=True, n_distinct=1009),
            ColumnStats(name="kind", type="text", not_null=True, n_distinct=3),
        ],
    )


def make_snapshot(lookup_cost: float = 1693.0, lookup_calls: int = 40) -> Snapshot:
    ended = datetime.now(UTC)
    return Snapshot(
        snapshot_id=uuid.uuid4(),
        agent_version=PRODUCT_VERSION,
        collected_at=ended,
        database_name="shop",
        interval=IntervalInfo(
            kind="delta", started_at=ended - timedelta(seconds=30), ended_at=ended, seconds=30.0
        ),
        server=ServerInfo(
            version="16.4",
            version_num=160004,
            is_replica=False,
            settings={"work_mem": "64kB", "port": "5432"},
        ),
        statements=[
            StatementStats(
                fingerprint=fingerprint_of(LOOKUP),
                query=LOOKUP,
                statement_type="select",
                relations=["public.events"],
                calls=lookup_calls,
                rows=lookup_calls * 99,
                total_exec_time_ms=400.0,
                shared_blks_hit=20000,
            ),
            StatementStats(
                fingerprint=fingerprint_of(REPORT),
                query=REPORT,
                statement_type="select",
                relations=["public.events"],
                calls=5,
                rows=500000,
                total_exec_time_ms=300.0,
                temp_blks_written=1200,
                temp_blks_read=1200,
            ),
        ],
        tables=[events_table()],
        indexes=[
            IndexStats(
                schema_name="public",
                table="events",
                name="events_pkey",
                definition="CREATE UNIQUE INDEX events_pkey ON public.events USING btree (id)",
                columns=["id"],
                access_method="btree",
                is_unique=True,
                is_primary=True,
                is_valid=True,
                is_partial=False,
                backs_constraint=True,
                size_bytes=2 * 2**20,
            )
        ],
        plans=[
            PlanSample(
                fingerprint=fingerprint_of(LOOKUP),
                generic=True,
                total_cost=lookup_cost,
                plan=seq_scan_plan(cost=lookup_cost),
            ),
            PlanSample(
                fingerprint=fingerprint_of(REPORT), generic=True, total_cost=12000.0, plan=sort_plan()
            ),
        ],
    )


def chat_completion(
    answer: dict[str, Any], prompt_tokens: int = 900, completion_tokens: int = 150
) -> dict[str, Any]:
    """An OpenAI chat completion body as documented (object, choices, finish_reason, usage)."""
    return {
        "id": "chatcmpl-analysis-test",
        "object": "chat.completion",
        "created": 1767225600,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": json.dumps(answer), "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


INDEX_ANSWER = {
    "explanation": "The statement scans every row of events to find one device's rows.",
    "suggestions": [
        {
            "kind": "create_index",
            "table": "public.events",
            "columns": ["device_id"],
            "sql": None,
            "rationale": "device_id is selective and unindexed.",
            "confidence": 0.9,
            "risk": "low",
        },
        {
            "kind": "create_index",
            "table": "public.events",
            "columns": ["no_such_column"],
            "rationale": "made up",
            "confidence": 0.2,
            "risk": "low",
        },
        {
            "kind": "rewrite",
            "sql": "DROP TABLE public.events",
            "rationale": "fewer rows",
            "confidence": 0.1,
            "risk": "high",
        },
    ],
}


def analysis_settings(metadata_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "analysis_interval_s": 0.05,
        "analysis_debounce_s": 0,
        "analysis_check_interval_s": 0,
        "analysis_min_load_pct": 0.0,
        **overrides,
    }
    return settings_for(metadata_url, **values)


def openai_settings(metadata_url: str, **overrides: object) -> Settings:
    return analysis_settings(
        metadata_url,
        llm_provider="openai",
        llm_base_url="https://llm.example.test/v1",
        llm_api_key="sk-analysis-test",
        llm_model="gpt-4o-mini",
        llm_max_retries=0,
        **overrides,
    )


def run_worker(settings: Settings) -> int:
    """One turn of the analysis worker, as the periodic job would run it."""

    async def turn() -> int:
        engine = engine_from_url(settings.metadata_url, pool_size=2)
        try:
            return await AnalysisWorker(engine, settings, lambda: httpx.AsyncClient(timeout=5)).run_once()
        finally:
            await engine.dispose()

    return asyncio.run(turn())


@dataclass
class Shop:
    client: TestClient
    tenant: SeededTenant
    database_id: str
    agent_token: str
    settings: Settings

    def admin(self) -> dict[str, str]:
        return as_user(self.client, self.tenant, "admin")

    def send_snapshot(self, snapshot: Snapshot) -> None:
        response = self.client.post(
            "/api/v1/agent/snapshots", json=snapshot.model_dump(mode="json"), headers=bearer(self.agent_token)
        )
        assert response.status_code == 202, response.text
        drain_inbox(self.client)

    def analyze(self, headers: dict[str, str] | None = None) -> str:
        response = self.client.post(
            f"/api/v1/databases/{self.database_id}/analyze", json={}, headers=headers or self.admin()
        )
        assert response.status_code == 202, response.text
        run_id: str = response.json()["run_id"]
        return run_id

    def run(self, run_id: str) -> dict[str, Any]:
        response = self.client.get(
            f"/api/v1/databases/{self.database_id}/analyses/{run_id}", headers=self.admin()
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def recommendations(self) -> list[dict[str, Any]]:
        response = self.client.get(
            f"/api/v1/databases/{self.database_id}/recommendations", headers=self.admin()
        )
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()
        return found


def open_shop(metadata_url: str, settings: Settings) -> Iterator[Shop]:
    tenant = seed_tenant(metadata_url, f"acme{uuid.uuid4().hex[:6]}")
    with TestClient(create_app(settings)) as client:
        database = register_database(client, tenant)
        yield Shop(client, tenant, database["id"], database["agent_token"], settings)


@pytest.fixture
def rules_shop(metadata_url: str) -> Iterator[Shop]:
    yield from open_shop(metadata_url, analysis_settings(metadata_url))


@pytest.fixture
def llm_shop(metadata_url: str) -> Iterator[Shop]:
    yield from open_shop(metadata_url, openai_settings(metadata_url))
