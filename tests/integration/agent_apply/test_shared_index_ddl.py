"""Every shape shared.sql.index_ddl writes is built, reconciled and rolled back by the agent's apply
path on a real server: reserved-word and mixed-case names, expression keys, UNIQUE with INCLUDE, and
the GIN indexes (pg_trgm, jsonb) the advisor recommends as advisory.

The re-run is the catalog reconciliation (agent/apply/index_definition.py): pg_get_indexdef of the
built index must read as the same definition, or a redelivered job would fail on its own index.
"""

from __future__ import annotations

import psycopg
import pytest

from agent.apply.apply_job import ChangeApplier
from shared.sql.index_ddl import IndexDefinition
from tests.integration.agent_apply.conftest import change, succeeded

DEFINITIONS = [
    IndexDefinition("Sales", "Docs", ("order", "user", "CustomerId")),
    IndexDefinition("Sales", "Docs", ("lower(body)", "order")),
    IndexDefinition("Sales", "Docs", ("id",), include=("CustomerId", "user"), unique=True),
    IndexDefinition.trigram("Sales", "Docs", "body"),
    IndexDefinition.trigram("Sales", "Docs", "body", method="gist"),
    IndexDefinition.jsonb("Sales", "Docs", "payload"),
    IndexDefinition.jsonb("Sales", "Docs", "payload", path_ops=True),
]


@pytest.fixture
def docs(db: psycopg.Connection) -> psycopg.Connection:
    db.execute(
        """
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
        CREATE SCHEMA "Sales";
        CREATE TABLE "Sales"."Docs" (
            id bigserial PRIMARY KEY, "order" int NOT NULL, "user" int NOT NULL, "CustomerId" int NOT NULL,
            body text NOT NULL, payload jsonb NOT NULL
        );
        INSERT INTO "Sales"."Docs" ("order", "user", "CustomerId", body, payload)
        SELECT g % 211, g % 199, g % 503, 'note ' || g, jsonb_build_object('k', g % 7)
          FROM generate_series(1, 5000) g;
        """
    )
    return db


def index_valid(db: psycopg.Connection, index: IndexDefinition) -> bool | None:
    row = db.execute(
        """SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s""",
        [index.schema, index.name()],
    ).fetchone()
    return None if row is None else bool(row[0])


@pytest.mark.parametrize("index", DEFINITIONS, ids=lambda index: index.identity())
def test_the_agent_builds_reconciles_and_rolls_back_what_the_shared_module_writes(
    docs: psycopg.Connection, applier: ChangeApplier, index: IndexDefinition
) -> None:
    create = change(index.create_sql(), table=index.table_name, index_name=index.name())
    rollback = change(index.rollback_sql(), table=index.table_name, index_name=index.name())

    built = succeeded(applier.run("apply", create))
    assert (built["outcome"], built["index_valid"]) == ("applied", True)
    assert index_valid(docs, index) is True

    again = succeeded(applier.run("apply", create))
    assert again["outcome"] == "already_applied"  # pg_get_indexdef reads as the same definition

    assert succeeded(applier.run("rollback", rollback))["outcome"] == "rolled_back"
    assert index_valid(docs, index) is None
