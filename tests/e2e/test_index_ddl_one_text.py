"""One index, one text: the control plane's analysis and the agent's advisor write the same DDL, and
the agent builds it, for reserved-word columns (`order`, `user`) and a quoted mixed-case table.

Before shared.sql.index_ddl the analysis wrote `ON public.order_lines (order, user)` (a syntax error)
and named `"Sales"."OrderLines"` indexes by another rule than the advisor. Here a real agent, a real
control plane (LLM mocked with respx) and a real monitored database: the advisor (`advise`, local
mode) recommends an index on each table, the model proposes the same columns to the analysis, the
agent proves them with HypoPG, both texts are compared, an admin approves, and the agent applies.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import respx

from agent.advise.candidate_index import CandidateIndex
from control_plane.analysis.proof import index_ddl
from control_plane.settings import Settings
from shared.sql.ddl_allow_list import admit_ddl
from tests.e2e.analysis_server import InProcessDeployment, deployed
from tests.e2e.test_analysis_proof import agent_once, analyse
from tests.integration.advise.conftest import advise, fresh_statistics, run
from tests.integration.control_plane.analysis.conftest import LLM_URL, chat_completion, openai_settings

PLAIN = "public.order_lines"  # a plain table name, reserved-word columns
QUOTED = "Sales.OrderLines"  # the snapshot's spelling of "Sales"."OrderLines"
PLAIN_LOOKUP = 'SELECT id, note FROM order_lines WHERE "order" = %s AND "user" = %s'
QUOTED_LOOKUP = (
    'SELECT id, note FROM "Sales"."OrderLines" WHERE "order" = %s AND "user" = %s AND "CustomerId" = %s'
)


@pytest.fixture
def shop(db: psycopg.Connection) -> psycopg.Connection:
    # 100,000 rows each; `order` and `user` each match ~500 rows, together ~2: a two-column index.
    db.execute(
        """
        CREATE TABLE order_lines (
            id bigserial PRIMARY KEY, "order" int NOT NULL, "user" int NOT NULL, note text NOT NULL
        );
        INSERT INTO order_lines ("order", "user", note)
        SELECT g % 211, g % 199, repeat('x', 40) FROM generate_series(1, 100000) g;
        CREATE SCHEMA "Sales";
        CREATE TABLE "Sales"."OrderLines" (
            id bigserial PRIMARY KEY, "order" int NOT NULL, "user" int NOT NULL, "CustomerId" int NOT NULL,
            note text NOT NULL
        );
        INSERT INTO "Sales"."OrderLines" ("order", "user", "CustomerId", note)
        SELECT g % 211, g % 199, g % 503, repeat('x', 40) FROM generate_series(1, 100000) g;
        """
    )
    fresh_statistics(db)
    run(db, PLAIN_LOOKUP, [[n, n % 199] for n in range(40)])
    run(db, QUOTED_LOOKUP, [[n, n % 199, n % 503] for n in range(40)])
    return db


def suggestion(table: str, columns: tuple[str, ...]) -> dict[str, Any]:
    return {
        "kind": "create_index",
        "table": table,
        "columns": list(columns),
        "rationale": "Every call scans the table for a few rows.",
        "confidence": 0.9,
        "risk": "low",
    }


@contextmanager
def llm_proposing(advised: dict[str, tuple[str, ...]]) -> Iterator[respx.MockRouter]:
    """The model proposes, for each statement, the index the advisor chose on its table."""

    def answer(request: httpx.Request) -> httpx.Response:
        prompt = request.content.decode().lower()
        suggestions = []
        if "orderlines" in prompt:
            suggestions.append(suggestion(QUOTED, advised[QUOTED]))
        elif "order_lines" in prompt:
            suggestions.append(suggestion(PLAIN, advised[PLAIN]))
        return httpx.Response(
            200, json=chat_completion({"explanation": "A scan.", "suggestions": suggestions})
        )

    with respx.mock(assert_all_called=False) as router:
        router.route(host="127.0.0.1").pass_through()  # the test's own calls to the control plane
        router.post(LLM_URL).mock(side_effect=answer)
        yield router


def approve(deployment: InProcessDeployment, recommendation_id: str) -> None:
    with deployment.api() as api:
        approved = api.post(f"/recommendations/{recommendation_id}/approve", json={})
    assert approved.status_code == 200, approved.text


def built_index(db: psycopg.Connection, schema: str, name: str) -> tuple[str, bool] | None:
    """(pg_get_indexdef, indisvalid) of the index `schema.name`, or None."""
    row = db.execute(
        """SELECT pg_get_indexdef(i.indexrelid), i.indisvalid
             FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = %s AND c.relname = %s""",
        [schema, name],
    ).fetchone()
    return None if row is None else (str(row[0]), bool(row[1]))


@pytest.mark.slow
def test_analysis_and_advisor_write_one_ddl_and_the_agent_builds_it(
    shop: psycopg.Connection, db_url: str, tmp_path: Path, metadata_url: str
) -> None:
    # The advisor's side: `optischema-agent advise`, local mode, on the same database and workload.
    # Its column order is its own (most selective first); the analysis is handed the same columns.
    advised = {r["table"]: r for r in advise(db_url)["recommendations"] if r["kind"] == "create_index"}
    assert set(advised) == {PLAIN, QUOTED}
    columns_of = {table: tuple(r["columns"]) for table, r in advised.items()}
    assert set(columns_of[PLAIN]) == {"order", "user"}
    assert set(columns_of[QUOTED]) == {"order", "user", "CustomerId"}
    quoted = CandidateIndex("Sales", "OrderLines", columns_of[QUOTED])
    keys = ", ".join(f'"{column}"' for column in columns_of[QUOTED])  # every one needs its quotes
    assert (
        advised[QUOTED]["sql"]
        == f'CREATE INDEX CONCURRENTLY {quoted.name()} ON "Sales"."OrderLines" ({keys});'
    )

    settings: Settings = openai_settings(metadata_url)
    spool = tmp_path / "spool"
    with deployed(settings) as deployment:
        with llm_proposing(columns_of):
            agent_once(deployment, db_url, spool, OPTISCHEMA_ADVISE_EVERY_CYCLES="0")  # no advisor
            analyse(deployment, settings)
            agent_once(deployment, db_url, spool, OPTISCHEMA_ADVISE_EVERY_CYCLES="0")  # the proofs
        listed = deployment.get(f"/databases/{deployment.database_id}/recommendations")
        proven = {r["table"]: r for r in listed if r["source"] == "llm" and r["kind"] == "create_index"}
        assert {table: tuple(r["columns"]) for table, r in proven.items()} == columns_of, listed

        for table, recommendation in proven.items():
            assert recommendation["tier"] == "verified"
            # One text on both sides: the analysis' proof, the advisor's recommendation, its writer.
            columns = columns_of[table]
            assert (recommendation["sql"], recommendation["rollback_sql"]) == index_ddl(table, columns)
            assert recommendation["sql"] == advised[table]["sql"]
            assert recommendation["rollback_sql"] == advised[table]["rollback_sql"]
            schema, bare = table.split(".", 1)
            name = CandidateIndex(schema, bare, columns).name()
            admitted = admit_ddl(recommendation["sql"])
            assert (admitted.schema, admitted.table, admitted.index_name) == (schema, bare, name)
            approve(deployment, recommendation["id"])

        agent_once(
            deployment, db_url, spool, OPTISCHEMA_ADVISE_EVERY_CYCLES="0", OPTISCHEMA_ALLOW_APPLY="true"
        )
        statuses = {
            r["id"]: r["status"]
            for r in deployment.get(f"/databases/{deployment.database_id}/recommendations")
        }

    for table, recommendation in proven.items():
        assert statuses[recommendation["id"]] == "applied"
        schema, bare = table.split(".", 1)
        built = built_index(shop, schema, CandidateIndex(schema, bare, columns_of[table]).name())
        assert built is not None and built[1], built  # exists and is valid
    quoted_definition = built_index(shop, "Sales", quoted.name())
    assert quoted_definition is not None
    assert quoted_definition[0].endswith(f'ON "Sales"."OrderLines" USING btree ({keys})')
