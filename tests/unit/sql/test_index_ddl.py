"""shared.sql.index_ddl: quoting, names, and the DDL every side writes, checked by the allow-list."""

from __future__ import annotations

import re

import pytest

from shared.sql.ddl_allow_list import admit_ddl
from shared.sql.index_ddl import (
    IndexDefinition,
    drop_index_sql,
    expression_key,
    quote_identifier,
    split_table_name,
)


@pytest.mark.parametrize(
    ("name", "quoted"),
    [
        ("orders", "orders"),
        ("customer_id", "customer_id"),
        ("_x1", "_x1"),
        ("Orders", '"Orders"'),
        ("CustomerId", '"CustomerId"'),
        ("order", '"order"'),  # reserved
        ("user", '"user"'),  # reserved
        ("between", '"between"'),  # a column-name keyword
        ("name", "name"),  # an unreserved keyword needs no quotes
        ("1abc", '"1abc"'),
        ("my table", '"my table"'),
        ('say "hi"', '"say ""hi"""'),
        ("a$b", '"a$b"'),
        ("café", '"café"'),
    ],
)
def test_quote_identifier_quotes_as_quote_ident_does(name: str, quoted: str) -> None:
    assert quote_identifier(name) == quoted


@pytest.mark.parametrize(
    ("key", "rendered"),
    [
        ("lower(email)", "lower(email)"),
        ("CAST(created_at AS DATE)", "CAST(created_at AS DATE)"),
        ("(data ->> 'k')", "(data ->> 'k')"),
        ("(a) + (b)", "((a) + (b))"),  # starts and ends with parentheses, but not one pair
        ("coalesce(a, b) + 1", "(coalesce(a, b) + 1)"),  # an operator needs its own parentheses
        ("f(')')", "(f(')'))"),  # not sure it is a plain call: parenthesized, which is always valid
        ("(x || ')(')", "(x || ')(')"),
    ],
)
def test_expression_keys_go_in_as_is_or_parenthesized(key: str, rendered: str) -> None:
    assert expression_key(key) == rendered
    index = IndexDefinition("public", "users", (key, "id"))
    assert index.hypothetical_sql() == f"CREATE INDEX ON public.users ({rendered}, id)"


def test_split_table_name_keeps_case_and_splits_at_the_first_dot() -> None:
    assert split_table_name("Sales.OrderLines") == ("Sales", "OrderLines")
    assert split_table_name("public.a.b") == ("public", "a.b")
    for bad in ("orders", ".orders", "public."):
        with pytest.raises(ValueError, match=r"schema\.table"):
            split_table_name(bad)


def test_plain_btree_ddl_and_name() -> None:
    index = IndexDefinition("public", "orders", ("customer_id", "created_at"))
    assert index.identity() == "public.orders(customer_id,created_at)"
    assert index.name() == "orders_customer_id_created_at_idx"
    assert index.create_sql() == (
        "CREATE INDEX CONCURRENTLY orders_customer_id_created_at_idx ON public.orders (customer_id, created_at);"
    )
    assert (
        index.rollback_sql() == "DROP INDEX CONCURRENTLY IF EXISTS public.orders_customer_id_created_at_idx;"
    )
    assert index.hypothetical_sql() == "CREATE INDEX ON public.orders (customer_id, created_at)"
    assert index.hypopg_can_simulate and index.required_extensions == ()


def test_quoted_mixed_case_table_with_reserved_columns() -> None:
    index = IndexDefinition.on_table("Sales.OrderLines", ("order", "user", "CustomerId"))
    name = index.name()
    # Sanitizing lowercased `OrderLines` and `CustomerId`: lossy, so a hash keeps it apart.
    assert re.fullmatch(r"orderlines_order_user_customerid_[0-9a-f]{8}_idx", name)
    assert index.create_sql() == (
        f'CREATE INDEX CONCURRENTLY {name} ON "Sales"."OrderLines" ("order", "user", "CustomerId");'
    )
    assert index.rollback_sql() == f'DROP INDEX CONCURRENTLY IF EXISTS "Sales".{name};'
    admitted = admit_ddl(index.create_sql())
    assert (admitted.schema, admitted.table, admitted.index_name) == ("Sales", "OrderLines", name)
    dropped = admit_ddl(index.rollback_sql())
    assert (dropped.kind, dropped.schema, dropped.index_name) == ("drop_index", "Sales", name)


def test_long_name_is_capped_at_63_bytes_with_a_hash() -> None:
    long = IndexDefinition(
        "public", "customer_subscription_events", ("subscription_plan_identifier", "x" * 40)
    )
    other = IndexDefinition(
        "public", "customer_subscription_events", ("subscription_plan_identifier", "y" * 40)
    )
    assert len(long.name().encode()) <= 63 and re.fullmatch(r"[a-z0-9_]+_[0-9a-f]{8}_idx", long.name())
    assert long.name() != other.name()


def test_a_name_that_would_start_with_a_digit_is_quoted() -> None:
    index = IndexDefinition("public", "Ä", ("ö",))  # sanitizes to nothing: the name is the hash alone
    assert re.fullmatch(r"[0-9a-f]{8}_idx", index.name())
    assert admit_ddl(index.create_sql()).index_name == index.name()


def test_trigram_gin_index() -> None:
    index = IndexDefinition.trigram("public", "products", "name")
    assert index.identity() == "public.products USING gin(name gin_trgm_ops)"
    assert re.fullmatch(r"products_name_gin_trgm_[0-9a-f]{8}_idx", index.name())
    assert index.create_sql() == (
        f"CREATE INDEX CONCURRENTLY {index.name()} ON public.products USING gin (name gin_trgm_ops);"
    )
    assert index.hypothetical_sql() == "CREATE INDEX ON public.products USING gin (name gin_trgm_ops)"
    assert not index.hypopg_can_simulate
    assert index.required_extensions == ("pg_trgm",)
    assert IndexDefinition("public", "products", ("name",)).name() != index.name()
    assert admit_ddl(index.create_sql()).index_name == index.name()


def test_jsonb_gin_index_with_and_without_path_ops() -> None:
    default = IndexDefinition.jsonb("public", "events", "payload")
    path_ops = IndexDefinition.jsonb("public", "events", "payload", path_ops=True)
    assert default.create_sql().endswith("ON public.events USING gin (payload);")
    assert path_ops.create_sql().endswith("ON public.events USING gin (payload jsonb_path_ops);")
    assert default.name() != path_ops.name() and default.required_extensions == ()


def test_unique_and_include() -> None:
    index = IndexDefinition("public", "users", ("lower(email)",), include=("Id",), unique=True)
    assert index.create_sql() == (
        f'CREATE UNIQUE INDEX CONCURRENTLY {index.name()} ON public.users (lower(email)) INCLUDE ("Id");'
    )
    assert index.identity() == "UNIQUE public.users USING btree(lower(email)) INCLUDE(Id)"
    admitted = admit_ddl(index.create_sql())
    assert admitted.unique and admitted.index_name == index.name()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"keys": ()}, "at least one"),
        ({"method": "bogus"}, "access method"),
        ({"opclasses": ("a", "b")}, "one operator class"),
        ({"opclasses": ("x; drop",)}, "plain lowercase"),
        ({"method": "gin", "include": ("b",)}, "INCLUDE"),
        ({"include": ("lower(b)",)}, "column names only"),
        ({"method": "gin", "unique": True}, "unique"),
    ],
)
def test_invalid_definitions_are_refused(arguments: dict[str, object], message: str) -> None:
    values: dict[str, object] = {"schema": "public", "table": "t", "keys": ("a",), **arguments}
    with pytest.raises(ValueError, match=message):
        IndexDefinition(**values)  # type: ignore[arg-type]


def test_drop_index_sql_quotes_both_parts() -> None:
    assert drop_index_sql("Sales", "Old Index") == 'DROP INDEX CONCURRENTLY IF EXISTS "Sales"."Old Index";'


def test_sandbox_build_is_a_plain_build_under_the_given_name() -> None:
    index = IndexDefinition("Sales", "OrderLines", ("order",), include=("user",), unique=True)
    assert index.sandbox_build_sql("Bench 1") == (
        'CREATE UNIQUE INDEX "Bench 1" ON "Sales"."OrderLines" ("order") INCLUDE ("user")'
    )
