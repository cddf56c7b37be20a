"""`optischema-agent snapshot` in privacy mode prints what `run` would send: pseudonyms, never names."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import psycopg

from tests.integration.advise.conftest import fresh_statistics, run
from tests.integration.agent.conftest import run_agent

SECRET_NAMES = ("vault_private", "customer_secrets", "ssn_hash", "card_tier")


def test_the_printed_payload_names_only_pseudonyms(
    db: psycopg.Connection, db_url: str, tmp_path: Path
) -> None:
    db.execute(
        """
        CREATE SCHEMA vault_private;
        CREATE TABLE vault_private.customer_secrets (id bigserial PRIMARY KEY, ssn_hash text, card_tier int);
        CREATE INDEX ON vault_private.customer_secrets (card_tier);
        INSERT INTO vault_private.customer_secrets (ssn_hash, card_tier)
        SELECT md5(g::text), g % 50 FROM generate_series(1, 2000) g;
        """
    )
    fresh_statistics(db)
    run(
        db,
        "SELECT id FROM vault_private.customer_secrets WHERE ssn_hash = %s AND card_tier = %s",
        [["x", 1]] * 5,
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "OPTISCHEMA_DATABASE_URL": db_url,
        "OPTISCHEMA_SPOOL_DIR": str(tmp_path / "spool"),
        "OPTISCHEMA_PRIVACY_MODE": "pseudonyms",
        "OPTISCHEMA_PLANS_PER_CYCLE": "50",
    }

    result = run_agent("snapshot", env=env)

    assert result.returncode == 0, result.stderr[-2000:]
    payload = json.loads(result.stdout)
    assert payload["privacy"] == "pseudonyms"
    assert [name for name in SECRET_NAMES if name in result.stdout.lower()] == []
    [lookup] = [s for s in payload["statements"] if "$2" in s["query"]]
    assert lookup["query"].startswith("SELECT c_") and " FROM s_" in lookup["query"]
    assert any(plan["plan"]["Plan"].get("Relation Name", "").startswith("t_") for plan in payload["plans"])
    # No key was given: one was generated, readable by the agent's user only.
    key = tmp_path / "spool" / "privacy" / "key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
