"""One index, one text: the control plane's analysis and the agent's advisor write the same DDL, and
the agent builds it, for reserved-word columns (`order`, `user`) and a quoted mixed-case table.

Before shared.sql.index_ddl the analysis wrote `ON public.order_lines (order, user)` (a syntax error)
and named `"Sales"."OrderLines"` indexes by another rule than the advisor. Here a real agent, a real
control plane (LLM mocked with respx) and a real monitored database: the analysis proposes the
indexes, the agent proves them with HypoPG, an admin approves them, and the agent applies them.
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
QUOTED_COLUMNS = ("order", "user", "CustomerId")
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
def llm_proposing(plain_columns: tuple[str, ...]) -> Iterator[respx.MockRouter]:
    """The model proposes, for each statement, the index on its table: the advisor's columns on
    order_lines, QUOTED_COLUMNS on "Sales"."OrderLines"."""

    def answer(request: httpx.Request) -> httpx.Response:
        prompt = request.content.decode().lower()
        suggestions = []
        if "orderlines" in prompt:
            suggestions.append(suggestion(QUOTED, QUOTED_COLUMNS))
        elif "order_lines" in prompt:
            suggestions.append(suggestion(PLAIN, plain_columns))
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


def valid_index(db: psycopg.Connection, schema: str, name: str) -> tuple[str, bool] | None:
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
    advised = {(r["table"], tuple(r["columns"])): r for r in advise(db_url)["recommendations"]}
    [plain_columns] = [columns for table, columns in advised if table == PLAIN]
    assert set(plain_columns) == {"order", "user"}

    settings: Settings = openai_settings(metadata_url)
    spool = tmp_path / "spool"
    with deployed(settings) as deployment:
        with llm_proposing(plain_columns):
            agent_once(deployment, db_url, spool, OPTISCHEMA_ADVISE_EVERY_CYCLES="0")  # no advisor
            analyse(deployment, settings)
            agent_once(deployment, db_url, spool, OPTISCHEMA_ADVISE_EVERY_CYCLES="0")  # the proofs
        listed = deployment.get(f"/databases/{deployment.database_id}/recommendations")
        proven = {
            (r["table"], tuple(r["columns"])): r
            for r in listed
            if r["source"] == "llm" and r["kind"] == "create_index"
        }
        assert set(proven) == {(PLAIN, plain_columns), (QUOTED, QUOTED_COLUMNS)}, listed

        for (table, columns), recommendation in proven.items():
            assert recommendation["tier"] == "verified"
            schema, bare = table.split(".", 1)
            advisors = CandidateIndex(schema, bare, columns)
            # One text on both sides, whichever side wrote it.
            assert (recommendation["sql"], recommendation["rollback_sql"]) == index_ddl(table, columns)
            assert recommendation["sql"] == advisors.create_sql()
            assert recommendation["rollback_sql"] == advisors.rollback_sql()
            if (table, columns) in advised:  # the advisor recommended it itself
                assert advised[(table, columns)]["sql"] == recommendation["sql"]
                assert advised[(table, columns)]["rollback_sql"] == recommendation["rollback_sql"]
            admitted = admit_ddl(recommendation["sql"])
            assert (admitted.schema, admitted.table, admitted.index_name) == (schema, bare, advisors.name())
            approve(deployment, recommendation["id"])

        agent_once(
            deployment, db_url, spool, OPTISCHEMA_ADVISE_EVERY_CYCLES="0", OPTISCHEMA_ALLOW_APPLY="true"
        )
        statuses = {
            r["id"]: r["status"]
            for r in deployment.get(f"/databases/{deployment.database_id}/recommendations")
        }

    assert (PLAIN, plain_columns) in advised  # the advisor's own recommendation was compared above
    quoted = CandidateIndex("Sales", "OrderLines", QUOTED_COLUMNS)
    assert quoted.create_sql() == (
        f'CREATE INDEX CONCURRENTLY {quoted.name()} ON "Sales"."OrderLines" ("order", "user", "CustomerId");'
    )
    for (table, columns), recommendation in proven.items():
        assert statuses[recommendation["id"]] == "applied"
        schema, bare = table.split(".", 1)
        built = valid_index(shop, schema, CandidateIndex(schema, bare, columns).name())
        assert built is not None and built[1], built  # exists and is valid
    quoted_definition = valid_index(shop, "Sales", quoted.name())
    assert quoted_definition is not None
    assert quoted_definition[0].endswith(
        'ON "Sales"."OrderLines" USING btree ("order", "user", "CustomerId")'
    )
