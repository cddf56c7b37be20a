"""A monitored database with a table to index, a second session to get in the way, and signed jobs.

Timeouts are turned down to milliseconds: a lock wait gives up after 100 ms and retries 50 ms later,
so a test that makes a build fail three times still takes well under a second.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.apply.apply_job import ChangeApplier
from agent.config import ApplySettings
from shared.job_signing import b64url_encode, key_id_for, raw_public_key, sign_job, sign_key_set
from shared.wire.jobs import ChangePayload, JobBody, JobKind, JobResult, PublishedKey, SignedJob
from tests.integration.ship.conftest import ScriptedServer

DATABASE_ID = uuid.uuid4()
FAST = ApplySettings(
    lock_timeout_ms=100,
    lock_retries=2,
    retry_spacing_s=0.05,
    max_transaction_age_s=300.0,
    lease_renew_interval_s=0.1,
)
CREATE_CUSTOMER_INDEX = "CREATE INDEX CONCURRENTLY orders_customer_id_idx ON public.orders (customer_id);"
DROP_CUSTOMER_INDEX = "DROP INDEX CONCURRENTLY IF EXISTS public.orders_customer_id_idx;"


@pytest.fixture
def orders(db: psycopg.Connection) -> psycopg.Connection:
    db.execute(
        """
        CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL);
        INSERT INTO orders (customer_id, status)
        SELECT g % 500, CASE WHEN g % 10 = 0 THEN 'open' ELSE 'done' END FROM generate_series(1, 20000) g;
        """
    )
    return db


@pytest.fixture
def applier(db_url: str) -> ChangeApplier:
    return ChangeApplier(db_url, FAST)


def change(
    sql: str, *, table: str | None = "public.orders", index_name: str | None = None, size: int | None = None
) -> ChangePayload:
    return ChangePayload(
        recommendation_id=uuid.uuid4(), sql=sql, table=table, index_name=index_name, estimated_size_bytes=size
    )


def index_states(db: psycopg.Connection, table: str = "orders") -> dict[str, bool]:
    """Every index on the table but its primary key: name -> valid."""
    rows = db.execute(
        """
        SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = %s::regclass AND NOT i.indisprimary ORDER BY 1
        """,
        [table],
    ).fetchall()
    return {str(name): bool(valid) for name, valid in rows}


def succeeded(result: JobResult) -> dict[str, Any]:
    assert result.status == "succeeded", result.error
    assert result.result is not None
    return result.result


@pytest.fixture
def other_session(db_url: str) -> Iterator[psycopg.Connection]:
    """Another client of the database (not autocommit): whatever it locks, it holds until rollback."""
    connection = psycopg.connect(db_url)
    try:
        yield connection
    finally:
        connection.rollback()
        connection.close()


def release_later(connection: psycopg.Connection, seconds: float) -> threading.Timer:
    """Ends the session's transaction after a while, from another thread: a lock that goes away."""
    timer = threading.Timer(seconds, connection.rollback)
    timer.start()
    return timer


class SigningKey:
    """The control plane's job-signing key: a fresh Ed25519 key that publishes itself as the one
    active key. Each suite adds the `sign` for the jobs it sends."""

    def __init__(self) -> None:
        self.private = Ed25519PrivateKey.generate()
        self.key_id = key_id_for(raw_public_key(self.private))

    def key_set(self) -> dict[str, Any]:
        published = [
            PublishedKey(
                key_id=self.key_id, public_key=b64url_encode(raw_public_key(self.private)), status="active"
            )
        ]
        return sign_key_set(self.private, self.key_id, published, datetime.now(UTC)).model_dump(mode="json")


class ControlPlaneKey(SigningKey):
    def sign(self, kind: JobKind, payload: ChangePayload, *, attempt: int = 1) -> SignedJob:
        now = datetime.now(UTC)
        body = JobBody(
            id=uuid.uuid4(),
            database_id=DATABASE_ID,
            kind=kind,
            attempt=attempt,
            issued_at=now,
            expires_at=now + timedelta(minutes=5),
            payload=payload.model_dump(mode="json"),
        )
        return sign_job(self.private, self.key_id, body)


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    server.start()
    yield server
    server.stop()
