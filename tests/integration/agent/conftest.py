"""Helpers for driving the agent against the test's database."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from agent.config import SessionLimits
from agent.db.session import MonitoredDatabase

AGENT_COMMAND = str(Path(sys.executable).with_name("optischema-agent"))


def run_agent(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Runs the installed console script, exactly as a user would."""
    return subprocess.run(
        [AGENT_COMMAND, *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


def unique_role(db: psycopg.Connection, prefix: str, options: str = "LOGIN") -> str:
    """Roles are cluster-wide and outlive the test database: every test gets its own name."""
    role = f"{prefix}_{uuid.uuid4().hex[:8]}"
    db.execute(f"CREATE ROLE {role} {options}")
    return role


@pytest.fixture
def monitored(db_url: str) -> Iterator[MonitoredDatabase]:
    database = MonitoredDatabase(db_url, SessionLimits(connect_timeout_s=5))
    with database:
        yield database


@pytest.fixture
def orders(db: psycopg.Connection) -> psycopg.Connection:
    """A small realistic table, analyzed, so that plans and statistics exist."""
    db.execute(
        """
        CREATE TABLE orders (
            id bigserial PRIMARY KEY,
            customer_id int NOT NULL,
            status text NOT NULL,
            total numeric(10, 2) NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    db.execute(
        """
        INSERT INTO orders (customer_id, status, total, created_at)
        SELECT g % 1000, CASE WHEN g % 10 = 0 THEN 'pending' ELSE 'shipped' END, g % 500,
               now() - make_interval(mins => g)
          FROM generate_series(1, 20000) g
        """
    )
    db.execute("ANALYZE orders")
    return db
