"""The catalog's spelling of an index and the job's statement are compared by meaning, not by text."""

from __future__ import annotations

import pytest

from agent.apply.index_definition import same_index_definition
from shared.sql.ddl_allow_list import admit_ddl

CASES = [
    # requested statement, pg_get_indexdef, same index?
    ("CREATE INDEX CONCURRENTLY i ON orders (customer_id);",
     "CREATE INDEX i ON public.orders USING btree (customer_id)", True),
    ("CREATE INDEX CONCURRENTLY i ON orders (customer_id, status) WHERE status = 'active'",
     "CREATE INDEX i ON public.orders USING btree (customer_id, status) WHERE ((status)::text = 'active'::text)",
     True),
    ("CREATE INDEX CONCURRENTLY i ON orders ((lower(email)))",
     "CREATE INDEX i ON public.orders USING btree (lower((email)::text))", True),
    ("CREATE INDEX CONCURRENTLY i ON orders (a DESC)", "CREATE INDEX i ON public.orders USING btree (a DESC)", True),
    ('CREATE INDEX CONCURRENTLY "I" ON "Orders" ("A")', 'CREATE INDEX "I" ON public."Orders" USING btree ("A")', True),
    ("CREATE INDEX CONCURRENTLY i ON orders (a) WHERE x > 5",
     "CREATE INDEX i ON public.orders USING btree (a) WHERE (x > 5)", True),
    ("CREATE INDEX CONCURRENTLY i ON orders (a)", "CREATE UNIQUE INDEX i ON public.orders USING btree (a)", False),
    ("CREATE INDEX CONCURRENTLY i ON orders (a, b)", "CREATE INDEX i ON public.orders USING btree (b, a)", False),
    ("CREATE INDEX CONCURRENTLY i ON orders (a)", "CREATE INDEX i ON other.orders USING btree (a)", False),
    ("CREATE INDEX CONCURRENTLY i ON orders USING hash (a)", "CREATE INDEX i ON public.orders USING btree (a)", False),
    ("CREATE INDEX CONCURRENTLY i ON orders ((a + b) * c)",
     "CREATE INDEX i ON public.orders USING btree ((a + (b * c)))", False),
    ("CREATE INDEX CONCURRENTLY i ON orders (a) WHERE x > 5",
     "CREATE INDEX i ON public.orders USING btree (a) WHERE (x > '5'::text)", False),
]  # fmt: skip


@pytest.mark.parametrize(("requested", "catalog", "same"), CASES)
def test_same_index_definition(requested: str, catalog: str, same: bool) -> None:
    assert same_index_definition(admit_ddl(requested).tree, catalog, "public") is same
