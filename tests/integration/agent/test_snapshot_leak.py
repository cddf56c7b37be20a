"""Invariant 1: nothing that leaves the agent holds a credential, a literal from a query or row data."""

from __future__ import annotations

import json
import os

import psycopg
import pytest

from deploy.local.throwaway_cluster import ThrowawayCluster
from tests.integration.agent.conftest import run_agent, unique_role

# Debian's PostgreSQL and PostgreSQL 18 alike (tests/conftest.py).
pytestmark = pytest.mark.both_servers

SECRETS = {
    "role password": "Hunter2-RolePassword-7781",
    "application name": "app-name-9d41c",
    "do block string": "do-block-secret-5521",
    "create table as string": "ctas-secret-3302",
    "comment": "comment-secret-1189",
    "email literal": "leaky.customer@example.invalid",
    "number literal": "987654321987",
    "view literal": "view-filter-secret-6610",
    "partial index literal": "index-predicate-secret-4471",
    "url password": "Url-Password-Secret-0042",
    "row data": "row-data-secret-9954",
}


def plant_secrets(db: psycopg.Connection) -> None:
    db.execute("CREATE TABLE customers (id int PRIMARY KEY, email text, note text, status text)")
    db.execute(
        "INSERT INTO customers SELECT g, 'user' || g || '@example.com', %s, 'active' FROM generate_series(1, 500) g",
        [SECRETS["row data"]],
    )
    role = unique_role(db, "leaky_role")
    db.execute(f"ALTER ROLE {role} PASSWORD '{SECRETS['role password']}'")
    db.execute(f"SET application_name = '{SECRETS['application name']}'")
    db.execute(f"DO $$ BEGIN PERFORM '{SECRETS['do block string']}'; END $$")
    db.execute(f"CREATE TABLE copied AS SELECT '{SECRETS['create table as string']}' AS x")
    db.execute(f"/* {SECRETS['comment']} */ SELECT count(*) FROM customers")
    db.execute(f"SELECT id FROM customers WHERE email = '{SECRETS['email literal']}'")
    db.execute(f"SELECT id FROM customers WHERE id = {SECRETS['number literal']}")
    db.execute(f"CREATE VIEW flagged AS SELECT * FROM customers WHERE note = '{SECRETS['view literal']}'")
    db.execute(
        f"CREATE INDEX customers_vip ON customers (id) WHERE status = '{SECRETS['partial index literal']}'"
    )
    db.execute("ANALYZE customers")
    for _ in range(20):  # the busiest statement, so that it gets a (scrubbed) plan
        db.execute("SELECT * FROM flagged WHERE id > 10")


def test_snapshot_output_and_logs_hold_no_secret(
    db: psycopg.Connection, db_cluster: ThrowawayCluster, tmp_path
) -> None:
    plant_secrets(db)
    reader = unique_role(db, "agent_reader", f"LOGIN PASSWORD '{SECRETS['url password']}' IN ROLE pg_monitor")
    url = db_cluster.url(db.info.dbname, user=reader, password=SECRETS["url password"])
    output_file = tmp_path / "snapshot.json"
    env = {**os.environ, "OPTISCHEMA_DATABASE_URL": url, "OPTISCHEMA_SPOOL_DIR": str(tmp_path / "spool")}

    to_stdout = run_agent("snapshot", env=env)
    to_file = run_agent("snapshot", "--output", str(output_file), env=env)

    assert to_stdout.returncode == 0, to_stdout.stderr
    assert to_file.returncode == 0, to_file.stderr
    payload = json.loads(to_stdout.stdout)
    assert payload["statements"], "the workload must be visible, only anonymized"
    assert payload["plans"], "the busiest statement must carry a scrubbed plan"
    assert payload["dropped"]["utility"] >= 4  # ALTER ROLE, SET, DO, CREATE TABLE AS at least
    everything = "\n".join([to_stdout.stdout, to_stdout.stderr, to_file.stderr, output_file.read_text()])
    leaked = {name: secret for name, secret in SECRETS.items() if secret.lower() in everything.lower()}
    assert leaked == {}


def test_snapshot_failure_message_does_not_echo_the_url_password(tmp_path) -> None:
    secret = SECRETS["url password"]
    url = f"postgresql://nobody:{secret}@127.0.0.1:1/nowhere?connect_timeout=1"

    result = run_agent("snapshot", "--database-url", url, "--spool-dir", str(tmp_path))

    assert result.returncode == 1
    assert "cannot connect" in result.stderr
    assert secret not in result.stdout + result.stderr
