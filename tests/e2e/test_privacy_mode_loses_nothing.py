"""Privacy mode costs analysis nothing: on the planted workload, the rules and the agent's HypoPG
verification recommend the same changes, with the same tiers and gains, whether the control plane
sees names or pseudonyms; the pseudonyms map back to exactly the names of the plain run.

Each run also reports its timings (agent cycle, analysis), printed for the record, never asserted.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from agent.privacy.names import Pseudonyms, UnknownPseudonym
from control_plane.settings import Settings
from tests.e2e.analysis_server import InProcessDeployment, deployed
from tests.e2e.conftest import plant_events
from tests.e2e.test_analysis_proof import play_workload
from tests.e2e.test_privacy_mode import PRIVACY_KEY, agent_once
from tests.integration.control_plane.analysis.conftest import analysis_settings, run_worker

Outcome = tuple[str, str, str, str | None, tuple[str, ...], float | None]


@pytest.fixture
def shop(db: psycopg.Connection) -> psycopg.Connection:
    plant_events(db)
    play_workload(db)
    return db


def real(name: str, names: Pseudonyms) -> str:
    try:
        return names.real_qualified(name) if "." in name else names.real(name)
    except UnknownPseudonym:
        return name  # not a pseudonym: an expression key or a word of the rules' own


def outcomes(
    deployment: InProcessDeployment, settings: Settings, db_url: str, spool: Path, **env: str
) -> tuple[list[Outcome], dict[str, float]]:
    started = time.monotonic()
    agent_once(deployment, settings, db_url, spool, **env)
    agent_s = time.monotonic() - started
    with deployment.api() as api:
        assert api.post(f"/databases/{deployment.database_id}/analyze", json={}).status_code == 202
    started = time.monotonic()
    assert run_worker(settings) >= 1
    analysis_s = time.monotonic() - started
    names = Pseudonyms(PRIVACY_KEY.encode(), spool / "privacy" / "names.json")
    found: list[dict[str, Any]] = deployment.get(f"/databases/{deployment.database_id}/recommendations")
    return sorted(
        (
            r["kind"],
            r["tier"],
            r["source"],
            None if r["table"] is None else real(r["table"], names),
            tuple(real(column, names) for column in r["columns"]),
            r["improvement_pct"],
        )
        for r in found
    ), {"agent_cycle_s": agent_s, "analysis_s": analysis_s}


@pytest.mark.slow
def test_rules_and_simulation_recommend_the_same_with_pseudonyms(
    shop: psycopg.Connection, db_url: str, metadata_url: str, tmp_path: Path
) -> None:
    settings = analysis_settings(metadata_url)  # no LLM: the rules and the agent's own advisor
    with deployed(settings) as plain_deployment:
        # OPTISCHEMA_PRIVACY_MODE=off overrides the helper's pseudonyms: the same agent, names sent.
        plain, plain_times = outcomes(
            plain_deployment, settings, db_url, tmp_path / "plain", OPTISCHEMA_PRIVACY_MODE="off"
        )
    with deployed(settings) as private_deployment:
        private, private_times = outcomes(private_deployment, settings, db_url, tmp_path / "private")

    print(f"privacy mode off: {plain_times}; pseudonyms: {private_times}")
    assert plain and any(kind == "create_index" and tier == "verified" for kind, tier, *_ in plain)
    assert private == plain
