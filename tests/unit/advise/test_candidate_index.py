"""CandidateIndex: names and the SQL that creates, drops or simulates it, from shared.sql.index_ddl."""

from __future__ import annotations

import re

import pytest

from agent.advise.candidate_index import CandidateIndex, quote_identifier
from shared.sql.index_ddl import IndexDefinition
from shared.sql.index_ddl import quote_identifier as shared_quote_identifier


def test_key_identifies_schema_table_and_ordered_columns() -> None:
    candidate = CandidateIndex("public", "orders", ("customer_id", "created_at"))
    assert candidate.key() == "public.orders(customer_id,created_at)"


def test_name_is_deterministic_and_readable() -> None:
    candidate = CandidateIndex("public", "orders", ("customer_id", "created_at"))
    assert candidate.name() == "orders_customer_id_created_at_idx"
    assert CandidateIndex("public", "orders", ("customer_id", "created_at")).name() == candidate.name()


def test_long_name_is_capped_at_63_bytes_with_a_hash_of_the_key() -> None:
    long = CandidateIndex(
        "public", "customer_subscription_events", ("subscription_plan_identifier", "x" * 40)
    )
    other = CandidateIndex(
        "public", "customer_subscription_events", ("subscription_plan_identifier", "y" * 40)
    )
    name = long.name()
    assert len(name.encode()) <= 63
    assert re.fullmatch(r"[a-z0-9_]+_[0-9a-f]{8}_idx", name)
    assert name.startswith("customer_subscription_events_subscription_plan")
    assert name != other.name()
    assert name == long.name()


@pytest.mark.parametrize(
    ("candidate", "pattern"),
    [
        (CandidateIndex("public", "Orders", ("Customer Id",)), r"orders_customer_id_[0-9a-f]{8}_idx"),
        (CandidateIndex("public", "users", ("lower(email)",)), r"users_lower_email_[0-9a-f]{8}_idx"),
    ],
)
def test_names_that_lost_characters_get_a_hash_so_they_cannot_collide(
    candidate: CandidateIndex, pattern: str
) -> None:
    assert re.fullmatch(pattern, candidate.name())
    # The same sanitized text from different keys: `orders` vs `Orders`, a column named lower_email.
    assert CandidateIndex("public", "orders", ("customer_id",)).name() != candidate.name()
    assert CandidateIndex("public", "users", ("lower_email",)).name() != candidate.name()


def test_quoting_is_the_shared_modules() -> None:
    # Re-exported for the advisor's other modules; the cases are in tests/unit/sql/test_index_ddl.py.
    assert quote_identifier is shared_quote_identifier
    assert quote_identifier("user") == '"user"'


def test_ddl_is_the_shared_index_definitions() -> None:
    candidate = CandidateIndex("Sales", "OrderLines", ("order", "user", "CustomerId", "lower(email)"))
    shared = IndexDefinition("Sales", "OrderLines", ("order", "user", "CustomerId", "lower(email)"))
    assert candidate.definition == shared
    assert (candidate.key(), candidate.name()) == (shared.identity(), shared.name())
    assert candidate.create_sql() == shared.create_sql()
    assert candidate.rollback_sql() == shared.rollback_sql()
    assert candidate.hypothetical_sql() == shared.hypothetical_sql()


def test_create_and_rollback_sql_for_plain_columns() -> None:
    candidate = CandidateIndex("public", "orders", ("customer_id", "created_at"))
    assert candidate.create_sql() == (
        "CREATE INDEX CONCURRENTLY orders_customer_id_created_at_idx"
        " ON public.orders (customer_id, created_at);"
    )
    assert candidate.rollback_sql() == (
        "DROP INDEX CONCURRENTLY IF EXISTS public.orders_customer_id_created_at_idx;"
    )
    assert candidate.hypothetical_sql() == "CREATE INDEX ON public.orders (customer_id, created_at)"


def test_mixed_case_and_reserved_identifiers_are_quoted_in_sql() -> None:
    candidate = CandidateIndex("Sales", "order", ("Region", "user"))
    name = candidate.name()
    assert (
        candidate.create_sql() == f'CREATE INDEX CONCURRENTLY {name} ON "Sales"."order" ("Region", "user");'
    )
    assert candidate.rollback_sql() == f'DROP INDEX CONCURRENTLY IF EXISTS "Sales".{name};'
    assert candidate.hypothetical_sql() == 'CREATE INDEX ON "Sales"."order" ("Region", "user")'


def test_expression_keys_are_rendered_in_the_ddl() -> None:
    candidate = CandidateIndex("public", "users", ("(a) + (b)", "id"))
    assert candidate.hypothetical_sql() == "CREATE INDEX ON public.users (((a) + (b)), id)"
    assert "(((a) + (b)), id);" in candidate.create_sql()


def test_covers_means_same_table_and_the_other_is_a_prefix() -> None:
    wide = CandidateIndex("public", "orders", ("customer_id", "status"))
    assert wide.covers(CandidateIndex("public", "orders", ("customer_id",)))
    assert wide.covers(wide)
    assert not wide.covers(CandidateIndex("public", "orders", ("status",)))
    assert not wide.covers(CandidateIndex("public", "orders", ("customer_id", "status", "total")))
    assert not wide.covers(CandidateIndex("audit", "orders", ("customer_id",)))
    assert not wide.covers(CandidateIndex("public", "orders_archive", ("customer_id",)))


def test_candidates_sort_by_schema_table_then_columns() -> None:
    b = CandidateIndex("public", "b", ("x",))
    a2 = CandidateIndex("public", "a", ("y",))
    a1 = CandidateIndex("public", "a", ("x", "z"))
    assert sorted([b, a2, a1]) == [a1, a2, b]
