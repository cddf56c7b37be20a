"""docs/agent-setup.md, followed to the letter on a server of our own.

Every SQL block of the page runs as written, in order, on a fresh cluster whose `shop` database has
tables owned by `shop_owner`; then every shell command of the page runs with the page's URL pointed
at that cluster: `check` passes as the least-privileged monitoring role, `snapshot` and `advise`
work, and the apply role can build an index concurrently on the owner's table.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from deploy.local.throwaway_cluster import ThrowawayCluster, start_cluster
from tests.integration.agent.conftest import AGENT_COMMAND

PAGE = Path(__file__).resolve().parents[2] / "docs" / "agent-setup.md"
FENCE = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)
DOC_HOST = "db.internal:5432"


def blocks(kind: str) -> list[str]:
    return [body for language, body in FENCE.findall(PAGE.read_text()) if language == kind]


@pytest.fixture
def shop_cluster() -> Iterator[ThrowawayCluster]:
    cluster = start_cluster()
    try:
        with cluster.connect() as conn:
            conn.execute("CREATE ROLE shop_owner")
        cluster.create_database("shop")
        with cluster.connect("shop") as conn:
            conn.execute("ALTER SCHEMA public OWNER TO shop_owner")  # the application owns its schema
            conn.execute("SET ROLE shop_owner")
            conn.execute("CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int, total int)")
            conn.execute(
                "INSERT INTO orders (customer_id, total) SELECT g % 5000, g FROM generate_series(1, 50000) g"
            )
            conn.execute("ANALYZE orders")
            for customer in range(20):
                conn.execute("SELECT sum(total) FROM orders WHERE customer_id = %s", [customer])
        yield cluster
    finally:
        cluster.stop()


def test_every_sql_and_shell_command_of_the_setup_page_works_as_written(
    shop_cluster: ThrowawayCluster, tmp_path: Path
) -> None:
    sql_blocks = blocks("sql")
    assert len(sql_blocks) >= 4, "extensions, monitoring role, apply role, verification query"
    with shop_cluster.connect("shop") as conn:
        for block in sql_blocks:
            conn.execute(block)  # one block may hold several statements: the simple protocol runs them all

    host = f"{shop_cluster.host}:{shop_cluster.port}"
    env = {name: value for name, value in os.environ.items() if not name.startswith("OPTISCHEMA_")}
    ran: list[str] = []
    for block in blocks("sh"):
        for line in block.strip().splitlines():
            words = shlex.split(line.replace(DOC_HOST, host))
            if words[0] == "export":
                name, _, value = words[1].partition("=")
                env[name] = value
                continue
            if words[:2] == ["optischema-agent", "run"]:
                continue  # needs a control plane: tests/e2e/test_approve_apply_measure.py runs it
            assert words[0] == "optischema-agent", line
            done = subprocess.run(
                [AGENT_COMMAND, *words[1:]],
                check=False,
                env=env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=180,
            )
            assert done.returncode == 0, (line, done.stdout[-2000:], done.stderr[-2000:])
            ran.append(words[1])
            if words[1] == "check":
                assert "ok    privileges" in done.stdout and "ok    explain access" in done.stdout, (
                    done.stdout
                )

    assert ran == ["check", "snapshot", "advise"]
    snapshot = json.loads((tmp_path / "snapshot.json").read_text())
    assert any("FROM orders WHERE customer_id = $1" in s["query"] for s in snapshot["statements"])
    apply_url = env["OPTISCHEMA_APPLY_DATABASE_URL"]
    assert "optischema_apply" in apply_url
    with psycopg.connect(apply_url, autocommit=True) as apply:
        apply.execute("CREATE INDEX CONCURRENTLY orders_customer_id_idx ON orders (customer_id)")
        assert apply.execute("SELECT current_user").fetchone() == ("optischema_apply",)
