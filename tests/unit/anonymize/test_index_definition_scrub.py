"""Index definitions from pg_get_indexdef(): schema kept, constants in predicates and expressions gone."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.anonymize.definitions import scrub_index_definition


@pytest.mark.parametrize(
    ("definition", "scrubbed"),
    [
        pytest.param(
            "CREATE INDEX orders_customer_idx ON public.orders USING btree (customer_id)",
            "CREATE INDEX orders_customer_idx ON public.orders USING btree (customer_id)",
            id="plain",
        ),
        pytest.param(
            "CREATE UNIQUE INDEX orders_pending ON public.orders USING btree (customer_id) "
            "WHERE ((status)::text = 'pending'::text)",
            "CREATE UNIQUE INDEX orders_pending ON public.orders USING btree (customer_id) "
            "WHERE ((status)::text = ?::text)",
            id="partial-with-string",
        ),
        pytest.param(
            "CREATE INDEX users_email ON public.users USING btree (lower((email)::text))",
            "CREATE INDEX users_email ON public.users USING btree (lower((email)::text))",
            id="expression-without-constants",
        ),
        pytest.param(
            "CREATE INDEX big_orders ON public.orders USING btree (id) WHERE (amount > (100)::numeric)",
            "CREATE INDEX big_orders ON public.orders USING btree (id) WHERE (amount > (?)::numeric)",
            id="partial-with-number",
        ),
        pytest.param(
            "CREATE INDEX t2_col1 ON s1.t2 USING btree (col1, substr(code2, 1, 3)) INCLUDE (v3)",
            "CREATE INDEX t2_col1 ON s1.t2 USING btree (col1, substr(code2, ?, ?)) INCLUDE (v3)",
            id="digits-in-names-stay",
        ),
        pytest.param(
            "CREATE INDEX \"Odd 'name'\" ON public.\"T\" USING gin (tags) WHERE (note <> 'it''s'::text)",
            'CREATE INDEX "Odd \'name\'" ON public."T" USING gin (tags) WHERE (note <> ?::text)',
            id="quoted-identifiers-stay",
        ),
        pytest.param(
            "CREATE INDEX ON ONLY public.events USING btree (created_at) WITH (fillfactor='70')",
            "CREATE INDEX ON ONLY public.events USING btree (created_at) WITH (fillfactor=?)",
            id="storage-parameter",
        ),
    ],
)
def test_scrub_index_definition(definition: str, scrubbed: str) -> None:
    assert scrub_index_definition(definition) == scrubbed


@pytest.mark.parametrize(
    "definition",
    [
        pytest.param("", id="empty"),
        pytest.param("ALTER ROLE bob PASSWORD 'hunter2'", id="not-an-index"),
        pytest.param("CREATE INDEX i ON t (a)", id="no-access-method"),
        pytest.param(
            "CREATE INDEX i ON t USING btree (a) WHERE (b = 'unterminated)", id="unterminated-string"
        ),
        pytest.param("CREATE INDEX i ON t USING btree (a) WHERE (b = $$x$$)", id="dollar-quote"),
        pytest.param("CREATE INDEX i ON t USING btree (a) /* 'x' */", id="comment"),
    ],
)
def test_scrub_index_definition_gives_up_rather_than_guess(definition: str) -> None:
    assert scrub_index_definition(definition) is None


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_scrub_index_definition_never_keeps_the_predicate_constant(secret: str) -> None:
    literal = "'" + secret.replace("'", "''") + "'"
    definition = f"CREATE INDEX i ON public.t USING btree (a) WHERE ((b)::text = {literal}::text)"
    assert scrub_index_definition(definition) == (
        "CREATE INDEX i ON public.t USING btree (a) WHERE ((b)::text = ?::text)"
    )
